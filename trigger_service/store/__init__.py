"""Where execution records live.

``protocol`` is the :class:`ExecutionStore` contract, pages and opaque cursors; ``sqlite`` the
default implementation.
"""

from trigger_service.store.protocol import ExecutionPage, ExecutionStore, RecordChange
from trigger_service.store.sqlite import SQLiteExecutionStore

__all__ = ["ExecutionPage", "ExecutionStore", "RecordChange", "SQLiteExecutionStore"]
