"""Where execution records live.

``protocol`` is the :class:`ExecutionStore` contract (records, leases, pages and opaque
cursors); ``sqlite`` the single-machine implementation, ``postgres`` the shared one for several
workers; ``factory`` picks one from a ``--store`` URL; ``migrations`` holds their SQL schemas.
"""

from trigger_service.store.factory import open_store, store_from_url
from trigger_service.store.protocol import ExecutionPage, ExecutionStore, RecordChange
from trigger_service.store.sqlite import SQLiteExecutionStore

__all__ = [
    "ExecutionPage",
    "ExecutionStore",
    "RecordChange",
    "SQLiteExecutionStore",
    "open_store",
    "store_from_url",
]
