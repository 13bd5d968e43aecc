"""Storage and transfer settings from ``BUCKETSTREAM_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal, cast

from storage_adapter import StorageSettings, TransferSettings


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from None


def storage_from_env(
    env: Mapping[str, str] | None = None,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> StorageSettings:
    """Storage settings: explicit values first, then ``BUCKETSTREAM_*``/``AWS_*`` variables."""
    env = os.environ if env is None else env
    checksum = env.get("BUCKETSTREAM_CHECKSUMS", "when_supported")
    if checksum not in {"when_supported", "when_required"}:
        raise ValueError("BUCKETSTREAM_CHECKSUMS must be 'when_supported' or 'when_required'")
    addressing = env.get("BUCKETSTREAM_ADDRESSING_STYLE", "auto")
    if addressing not in {"auto", "path", "virtual"}:
        raise ValueError("BUCKETSTREAM_ADDRESSING_STYLE must be 'auto', 'path' or 'virtual'")
    signing = env.get("BUCKETSTREAM_PAYLOAD_SIGNING", "auto")
    if signing not in {"auto", "on", "off"}:
        raise ValueError("BUCKETSTREAM_PAYLOAD_SIGNING must be 'auto', 'on' or 'off'")
    when = cast(Literal["when_supported", "when_required"], checksum)
    return StorageSettings(
        endpoint_url=endpoint_url or env.get("BUCKETSTREAM_ENDPOINT_URL") or None,
        region=region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        profile=env.get("AWS_PROFILE") or None,
        addressing_style=cast(Literal["auto", "path", "virtual"], addressing),
        request_checksum_calculation=when,
        response_checksum_validation=when,
        payload_signing=cast(Literal["auto", "on", "off"], signing),
    )


def transfer_from_env(env: Mapping[str, str] | None = None) -> TransferSettings:
    """Transfer sizes from ``BUCKETSTREAM_CHUNK_SIZE`` etc. (bytes), defaults otherwise."""
    env = os.environ if env is None else env
    defaults = TransferSettings()
    return TransferSettings(
        chunk_size=_env_int(env, "BUCKETSTREAM_CHUNK_SIZE", defaults.chunk_size),
        read_ahead=_env_int(env, "BUCKETSTREAM_READ_AHEAD", defaults.read_ahead),
        part_size=_env_int(env, "BUCKETSTREAM_PART_SIZE", defaults.part_size),
        parts_in_flight=_env_int(env, "BUCKETSTREAM_PARTS_IN_FLIGHT", defaults.parts_in_flight),
        channel_capacity=_env_int(env, "BUCKETSTREAM_CHANNEL_CAPACITY", defaults.channel_capacity),
    )
