"""Typed readers for the fields of a decoded notification.

Every reader takes the JSON path of what it reads and raises :class:`MalformedEvent`
with ``"<path>: <what is wrong>"``; nothing else escapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from storage_adapter import MAX_KEY_BYTES
from trigger_service.errors import MalformedEvent

_PREVIEW_CHARS = 100
_MAX_SIZE = 2**63 - 1
_NO_VERSION = ("", "null")


def join(path: str, name: str) -> str:
    """``path.name``, or ``name`` at the top level."""
    return f"{path}.{name}" if path else name


def kind(value: object) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def preview(value: object) -> str:
    """A short, safe rendering of a value for messages."""
    try:
        text = repr(value)
    except Exception:  # a caller's object with a broken __repr__
        text = f"<{type(value).__name__}>"
    return text if len(text) <= _PREVIEW_CHARS else text[: _PREVIEW_CHARS - 3] + "..."


def malformed(path: str, problem: str) -> MalformedEvent:
    """The error for ``problem`` at ``path``."""
    return MalformedEvent(f"{path or 'body'}: {problem}")


def mapping(value: object, path: str) -> Mapping[str, Any]:
    """``value`` if it is a JSON object."""
    if not isinstance(value, Mapping):
        raise malformed(path, f"expected an object, got {kind(value)}")
    return value


def member(obj: Mapping[str, Any], name: str, path: str) -> Any:
    """The required member ``name`` of ``obj``."""
    if name not in obj or obj[name] is None:
        raise malformed(join(path, name), "missing")
    return obj[name]


def member_mapping(obj: Mapping[str, Any], name: str, path: str) -> Mapping[str, Any]:
    """The required object member ``name`` of ``obj``."""
    return mapping(member(obj, name, path), join(path, name))


def first_present(obj: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    """The first of ``names`` that ``obj`` holds with a non-null value."""
    for name in names:
        if obj.get(name) is not None:
            return name
    return None


def text(value: object, path: str) -> str:
    """``value`` as a non-empty string that can be encoded as UTF-8 and has no NUL."""
    if not isinstance(value, str):
        raise malformed(path, f"expected a string, got {kind(value)}")
    if not value:
        raise malformed(path, "empty")
    check_unicode(value, path)
    return value


def optional_text(obj: Mapping[str, Any], names: tuple[str, ...], path: str) -> str | None:
    """The first present of ``names`` as a string; missing, null or empty give ``None``."""
    name = first_present(obj, names)
    if name is None:
        return None
    value = obj[name]
    if not isinstance(value, str):
        raise malformed(join(path, name), f"expected a string, got {kind(value)}")
    if not value:
        return None
    check_unicode(value, join(path, name))
    return value


def check_unicode(value: str, path: str) -> None:
    """Reject NUL and lone surrogates, which no store accepts in names."""
    if "\x00" in value:
        raise malformed(path, "contains NUL")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise malformed(path, "not valid Unicode (lone surrogate)") from None


def size(obj: Mapping[str, Any], path: str) -> int | None:
    """``size`` as a non-negative int; Ceph sends it as a decimal string."""
    value = obj.get("size")
    where = join(path, "size")
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        number = int(value)
    else:
        raise malformed(where, f"expected a non-negative integer, got {preview(value)}")
    if not 0 <= number <= _MAX_SIZE:
        raise malformed(where, f"expected a non-negative integer, got {preview(value)}")
    return number


def etag(obj: Mapping[str, Any], path: str) -> str | None:
    """The ETag without the quotes some stores keep (``"abc"``, ``&quot;abc&quot;``)."""
    value = optional_text(obj, ("eTag", "etag", "ETag"), path)
    if value is None:
        return None
    stripped = value.strip().replace("&quot;", '"').strip('"').strip()
    return stripped or None


def version_id(obj: Mapping[str, Any], path: str) -> str | None:
    """``versionId``; the ``"null"`` and ``""`` that unversioned buckets report give ``None``."""
    value = optional_text(obj, ("versionId", "version-id"), path)
    return None if value is None or value in _NO_VERSION else value


def event_time(obj: Mapping[str, Any], name: str, path: str) -> datetime | None:
    """An ISO 8601 time as an aware UTC datetime; a time without offset is taken as UTC."""
    value = optional_text(obj, (name,), path)
    if value is None:
        return None
    where = join(path, name)
    try:
        parsed = datetime.fromisoformat(value.strip())
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise malformed(where, f"not an ISO 8601 time: {preview(value)}") from None


def event_name(obj: Mapping[str, Any], name: str, path: str) -> str:
    """The event name in S3 form, without the ``s3:`` prefix MinIO and Ceph send."""
    where = join(path, name)
    value = text(member(obj, name, path), where)
    normalised = value.removeprefix("s3:")
    if not normalised:
        raise malformed(where, f"not an event name: {preview(value)}")
    return normalised


def object_key(value: object, path: str, *, url_encoded: bool) -> str:
    """The object's real key; ``url_encoded`` keys are decoded once with ``unquote_plus``."""
    if not isinstance(value, str):
        raise malformed(path, f"expected a string, got {kind(value)}")
    if url_encoded:
        try:
            value = unquote_plus(value, errors="strict")
        except UnicodeDecodeError:
            raise malformed(path, "not valid UTF-8 after URL decoding") from None
    return check_object_key(value, path)


def check_object_key(key: str, where: str = "key") -> str:
    """``key`` if S3 and OBS accept it: non-empty, at most 1024 UTF-8 bytes, no NUL."""
    if not key:
        raise malformed(where, "empty")
    check_unicode(key, where)
    length = len(key.encode("utf-8"))
    if length > MAX_KEY_BYTES:
        raise malformed(where, f"longer than {MAX_KEY_BYTES} bytes of UTF-8 ({length})")
    return key
