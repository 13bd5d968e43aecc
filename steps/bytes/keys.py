"""Keys of the ``encrypt`` and ``decrypt`` steps: where they come from, never what they are.

A workflow names a key's *location* only: ``key_env: NAME`` (an environment variable holding
the 32-byte key in base64) or ``key_file: PATH`` (a file holding the 32 raw bytes, or their
base64 text). The key is read once when the workflow is loaded; it is held in a
:class:`SecretKey`, whose ``repr`` shows the key id and where the key came from, never its
bytes, so it cannot reach a log line or an execution record by accident. Error messages name
the variable or file and what is wrong with it, never its content.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from steps.errors import KeyUnavailable

#: AES-256 key length.
KEY_BYTES = 32
#: A key file is tiny; anything larger is not a key file.
MAX_KEY_FILE_BYTES = 4096
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SecretKey:
    """32 key bytes and a printable description of where they came from."""

    __slots__ = ("_material", "key_id", "origin")

    def __init__(self, material: bytes, *, origin: str, key_id: str | None = None) -> None:
        if len(material) != KEY_BYTES:
            raise ValueError("an AES-256 key is 32 bytes")
        self._material = material
        self.origin = origin
        self.key_id = key_id

    @property
    def material(self) -> bytes:
        """The key bytes; pass them to the cipher, never to a log or a message."""
        return self._material

    def __repr__(self) -> str:
        return f"SecretKey(origin={self.origin!r}, key_id={self.key_id!r})"


class KeyParams(BaseModel):
    """Where the key is (``key_env`` or ``key_file``, exactly one) and its optional id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key_env: str | None = Field(
        default=None, description="environment variable holding the base64 32-byte key"
    )
    key_file: Path | None = Field(
        default=None, description="file holding the key: 32 raw bytes or their base64 text"
    )
    key_id: str | None = Field(
        default=None, min_length=1, description="key name written to (or expected in) headers"
    )

    @field_validator("key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(f"{value!r} is not an environment variable name")
        return value

    @field_validator("key_id")
    @classmethod
    def _printable_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value.encode("utf-8")) > 255 or not value.isprintable():
            raise ValueError("key_id must be printable text of at most 255 bytes")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> KeyParams:
        if (self.key_env is None) == (self.key_file is None):
            raise ValueError("give exactly one of key_env (variable name) or key_file (path)")
        return self


def load_key(params: KeyParams, env: Mapping[str, str] | None = None) -> SecretKey:
    """Read the key ``params`` point at; raises :class:`KeyUnavailable` naming the place."""
    env = os.environ if env is None else env
    if params.key_env is not None:
        origin = f"environment variable {params.key_env}"
        raw = env.get(params.key_env)
        if not raw:
            raise KeyUnavailable(f"{origin} is not set or empty; it must hold a base64 32-byte key")
        material = _decode_base64(raw.encode("ascii", "replace"), origin)
    else:
        assert params.key_file is not None
        origin = f"key file {params.key_file}"
        material = _read_key_file(params.key_file, origin)
    return SecretKey(material, origin=origin, key_id=params.key_id)


def _read_key_file(path: Path, origin: str) -> bytes:
    try:
        with path.open("rb") as handle:
            content = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise KeyUnavailable(f"cannot read {origin}: {exc.strerror}") from None
    if len(content) == KEY_BYTES:
        return content
    if len(content) > MAX_KEY_FILE_BYTES:
        raise KeyUnavailable(f"{origin} is larger than {MAX_KEY_FILE_BYTES} bytes: not a key")
    return _decode_base64(content, origin)


def _decode_base64(text: bytes, origin: str) -> bytes:
    compact = b"".join(text.split())
    try:
        if b"-" in compact or b"_" in compact:
            material = base64.urlsafe_b64decode(compact)
        else:
            material = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise KeyUnavailable(
            f"{origin} is not base64 text; generate a key with "
            '`python -c "import base64, os; print(base64.b64encode(os.urandom(32)).decode())"`'
        ) from None
    if len(material) != KEY_BYTES:
        raise KeyUnavailable(
            f"{origin} decodes to {len(material)} bytes; AES-256 needs exactly {KEY_BYTES}"
        )
    return material


async def key_setup(params: Any, _loader: Any) -> SecretKey:
    """``StepDefinition.setup`` of both steps: the key, read once per workflow load."""
    return load_key(params)
