"""Query parameters read with errors that name the parameter."""

from __future__ import annotations

from trigger_service.errors import InvalidRequest
from trigger_service.records import ExecutionStatus


def status_param(raw: str | None) -> ExecutionStatus | None:
    """``?status=``: one of the execution statuses, or None when absent."""
    if raw is None or raw == "":
        return None
    try:
        return ExecutionStatus(raw)
    except ValueError:
        known = ", ".join(s.value for s in ExecutionStatus)
        raise InvalidRequest(f"status: must be one of {known}") from None


def int_param(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    """An integer parameter between ``low`` and ``high``; ``default`` when absent."""
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name}: must be an integer, got {raw[:20]!r}") from None
    if not low <= value <= high:
        raise InvalidRequest(f"{name}: must be between {low} and {high}, got {value}")
    return value


def bool_param(raw: str | None, name: str, *, default: bool) -> bool:
    """``true``/``1``/``yes`` or ``false``/``0``/``no``; ``default`` when absent."""
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"true", "1", "yes"}:
        return True
    if value in {"false", "0", "no"}:
        return False
    raise InvalidRequest(f"{name}: must be true or false, got {raw[:20]!r}")
