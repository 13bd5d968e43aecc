"""The encrypted object format, version 1: AES-256-GCM over fixed-size chunks.

An object written by ``encrypt`` is a header followed by chunks::

    offset  size  field
    0       4     magic b"BSEC"
    4       1     version, 1
    5       1     n, length of the key id (0 when none)
    6       4     chunk size C, big-endian: plaintext bytes per chunk (4 KiB … 16 MiB)
    10      12    file nonce, random for every object
    22      n     key id, UTF-8 (names the key, for rotation; never the key itself)
    22+n    16    key check: HMAC-SHA256(key, b"bucketstream key check v1" || bytes 0…22+n)[:16]

    then, for i = 0, 1, …: AES-256-GCM(key, nonce_i, plaintext_i, aad_i) = ciphertext_i || tag_i
        nonce_i = file nonce XOR i (i as a 12-byte big-endian integer)
        aad_i   = the whole header || i (8 bytes, big-endian) || last (1 byte: 1 on the last chunk)

Every chunk holds exactly C plaintext bytes except the last, which holds 0 … C-1 (an object
whose size is a multiple of C ends with an empty chunk: its 16-byte tag alone). So an encrypted
object is ``38 + n + P + 16 × (⌊P / C⌋ + 1)`` bytes for P plaintext bytes, and a reader knows
a chunk is the last one because fewer than ``C + 16`` bytes are left.

What this detects: a changed byte anywhere (the header is in every chunk's AAD, the key check
covers it too); chunks swapped or repeated (the index is in the nonce and the AAD); an object
cut at a chunk boundary (the chunk now last was sealed with last = 0) or inside a chunk; bytes
appended (the old last chunk was sealed with last = 1); a wrong key (the key check, before any
chunk is opened). Nonces never repeat within an object, and the 96-bit random file nonce keeps
them apart across objects; rotate keys (``key_id``) well before 2³² objects per key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from steps.bytes.keys import SecretKey
from steps.errors import DecryptionFailed, InvalidEncryptedData, WrongKey

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"BSEC"
VERSION = 1
TAG_BYTES = 16
NONCE_BYTES = 12
KEY_CHECK_BYTES = 16
MIN_CHUNK_SIZE = 4 * 1024
MAX_CHUNK_SIZE = 16 * 1024 * 1024
DEFAULT_CHUNK_SIZE = 1024 * 1024
#: Bytes of the header before the key id.
FIXED_HEADER = 22
#: The longest possible header: fixed part, a 255-byte key id, the key check.
MAX_HEADER = FIXED_HEADER + 255 + KEY_CHECK_BYTES
_KEY_CHECK_LABEL = b"bucketstream key check v1"
_FIXED = struct.Struct(">4sBBI12s")


@dataclass(frozen=True)
class Header:
    """A parsed (or new) header; ``raw`` is its exact bytes, the AAD prefix of every chunk."""

    chunk_size: int
    file_nonce: bytes
    key_id: str | None
    raw: bytes


def _key_check(key: SecretKey, body: bytes) -> bytes:
    return hmac.new(key.material, _KEY_CHECK_LABEL + body, hashlib.sha256).digest()[
        :KEY_CHECK_BYTES
    ]


def new_header(key: SecretKey, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Header:
    """A header with a fresh random file nonce, carrying ``key.key_id``."""
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk size must be {MIN_CHUNK_SIZE} … {MAX_CHUNK_SIZE}")
    key_id = (key.key_id or "").encode("utf-8")
    nonce = os.urandom(NONCE_BYTES)
    body = _FIXED.pack(MAGIC, VERSION, len(key_id), chunk_size, nonce) + key_id
    return Header(chunk_size, nonce, key.key_id, body + _key_check(key, body))


def header_length(prefix: bytes) -> int | None:
    """The full header's length once ``prefix`` holds its fixed part, else None.

    Raises :class:`InvalidEncryptedData` as soon as the prefix shows a foreign format.
    """
    if len(prefix) < FIXED_HEADER:
        if not MAGIC.startswith(prefix[: len(MAGIC)]):
            raise _not_ours()
        return None
    magic, version, id_length, _, _ = _FIXED.unpack_from(prefix)
    if magic != MAGIC:
        raise _not_ours()
    if version != VERSION:
        raise InvalidEncryptedData(
            f"encrypted object has format version {version}; this service reads version "
            f"{VERSION}: decrypt it with the release that wrote it"
        )
    return int(FIXED_HEADER + id_length + KEY_CHECK_BYTES)


def open_header(raw: bytes, key: SecretKey) -> Header:
    """Parse and check a header (``header_length(raw)`` bytes) against ``key``."""
    _, _, id_length, chunk_size, nonce = _FIXED.unpack_from(raw)
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise InvalidEncryptedData(
            f"encrypted object header gives a chunk size of {chunk_size} bytes, outside "
            f"{MIN_CHUNK_SIZE} … {MAX_CHUNK_SIZE}: the header is damaged"
        )
    body = raw[: FIXED_HEADER + id_length]
    try:
        key_id = body[FIXED_HEADER:].decode("utf-8") or None
    except UnicodeDecodeError:
        raise InvalidEncryptedData(
            "encrypted object header holds a key id that is not UTF-8"
        ) from None
    if key.key_id is not None and key_id is not None and key_id != key.key_id:
        raise WrongKey(
            f"the object was encrypted with key id {key_id!r}; this step's key is "
            f"{key.key_id!r}: decrypt it with the key named {key_id!r}"
        )
    if not hmac.compare_digest(_key_check(key, body), raw[len(body) :]):
        named = f" (key id {key_id!r})" if key_id else ""
        raise WrongKey(
            f"the key from {key.origin} is not the key this object was encrypted with{named}, "
            "or the object's header was modified"
        )
    return Header(chunk_size, nonce, key_id, raw)


def _not_ours() -> InvalidEncryptedData:
    return InvalidEncryptedData(
        "input is not an object written by the encrypt step (it does not start with the "
        f"{MAGIC.decode()} header)"
    )


def _nonce(header: Header, index: int) -> bytes:
    counter = int.from_bytes(header.file_nonce, "big") ^ index
    return counter.to_bytes(NONCE_BYTES, "big")


def _aad(header: Header, index: int, last: bool) -> bytes:
    return header.raw + struct.pack(">QB", index, 1 if last else 0)


def new_cipher(key: SecretKey) -> AESGCM:
    """An AES-256-GCM cipher under ``key``.

    ``cryptography`` is imported here, when a stream is encrypted or decrypted: its bindings
    cost ~7 MB of RSS that workflows without these steps should not carry.
    """
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key.material)


def seal_chunk(
    cipher: AESGCM, header: Header, index: int, plaintext: bytes | memoryview, *, last: bool
) -> bytes:
    """Chunk ``index``: its ciphertext followed by its 16-byte tag."""
    return cipher.encrypt(_nonce(header, index), plaintext, _aad(header, index, last))


def open_chunk(
    cipher: AESGCM, header: Header, index: int, sealed: bytes | memoryview, *, last: bool
) -> bytes:
    """The plaintext of chunk ``index``; raises :class:`DecryptionFailed` if it is not genuine."""
    if len(sealed) < TAG_BYTES:
        raise DecryptionFailed(
            f"encrypted object is truncated: chunk {index} is {len(sealed)} bytes, shorter than "
            "its 16-byte tag"
        )
    from cryptography.exceptions import InvalidTag

    try:
        return cipher.decrypt(_nonce(header, index), sealed, _aad(header, index, last))
    except InvalidTag:
        where = "final chunk" if last else "chunk"
        raise DecryptionFailed(
            f"{where} {index} failed authentication: the object was modified, truncated, "
            "reordered or extended after it was encrypted"
        ) from None
