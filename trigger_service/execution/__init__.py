"""Running executions: one at a time (``engine``), many under limits (``executor``).

``recovery`` settles executions a crash interrupted; ``failures`` turns exceptions into the
record's ``error``; ``local`` and ``process`` run a workflow on local files; ``sinks`` tee the
output to a caller; ``allocator`` keeps freed chunks from pinning memory.
"""

from trigger_service.execution.engine import ExecutionEngine
from trigger_service.execution.process import process_file

__all__ = ["ExecutionEngine", "process_file"]
