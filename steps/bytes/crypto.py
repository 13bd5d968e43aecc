"""``encrypt`` and ``decrypt``: AES-256-GCM in the chunked format of :mod:`steps.bytes.sealed`.

Both work one chunk at a time (1 MiB by default), so memory does not depend on the object's
size. ``decrypt`` sends a chunk on only after its tag is verified; a failure later in the
object (tampering, truncation, a wrong key) fails the step with a typed error, and the runner
then aborts the multipart upload, so no output object is ever made of an unverified object.
The cipher work runs in worker threads under the CPU limiter.

.. code-block:: yaml

    steps:
      - encrypt: {key_env: BUCKETSTREAM_KEY, key_id: "2026-12"}
    # ...and in the workflow that reads them back:
      - decrypt: {key_file: /etc/bucketstream/key}
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from steps.api import StepContext, StepDefinition
from steps.bytes.blocks import BlockSplitter
from steps.bytes.keys import KeyParams, SecretKey, key_setup, load_key
from steps.bytes.sealed import (
    DEFAULT_CHUNK_SIZE,
    FIXED_HEADER,
    MAX_CHUNK_SIZE,
    MIN_CHUNK_SIZE,
    TAG_BYTES,
    Header,
    header_length,
    new_cipher,
    new_header,
    open_chunk,
    open_header,
    seal_chunk,
)
from steps.cpu import run_cpu
from steps.errors import DecryptionFailed, InvalidEncryptedData

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class EncryptParams(KeyParams):
    """Parameters of ``encrypt``: the key's location and id, and the chunk size."""

    chunk_size: int = Field(
        default=DEFAULT_CHUNK_SIZE,
        ge=MIN_CHUNK_SIZE,
        le=MAX_CHUNK_SIZE,
        description="plaintext bytes per authenticated chunk",
    )


class DecryptParams(KeyParams):
    """Parameters of ``decrypt``: the key's location, and the key id it must carry if given."""


def _key(ctx: StepContext) -> SecretKey:
    if isinstance(ctx.resources, SecretKey):
        return ctx.resources
    return load_key(ctx.params)


async def encrypt(ctx: StepContext) -> None:
    """Encrypt the stream: the header, then one sealed chunk per ``chunk_size`` bytes."""
    params: EncryptParams = ctx.params
    key = _key(ctx)
    cipher = new_cipher(key)
    header = new_header(key, params.chunk_size)
    await ctx.write(header.raw)
    splitter = BlockSplitter(params.chunk_size)
    index = 0
    async for chunk in ctx.input:
        # One worker-thread hop per input chunk, not per cipher chunk: on a busy machine each
        # hop waits for the scheduler, and that wait dominated the cipher's own time.
        sealed = await run_cpu(_seal_all, cipher, header, index, splitter, chunk)
        for frame in sealed:
            await ctx.write(frame)
        index += len(sealed)
    await ctx.write(await run_cpu(_seal, cipher, header, index, splitter.rest(), True))


def _seal_all(
    cipher: AESGCM, header: Header, first: int, splitter: BlockSplitter, chunk: bytes
) -> list[bytes]:
    return [
        seal_chunk(cipher, header, first + n, block, last=False)
        for n, block in enumerate(splitter.feed(chunk))
    ]


def _open_all(
    cipher: AESGCM, header: Header, first: int, splitter: BlockSplitter, data: memoryview
) -> list[bytes]:
    return [
        open_chunk(cipher, header, first + n, block, last=False)
        for n, block in enumerate(splitter.feed(data))
    ]


def _seal(
    cipher: AESGCM, header: Header, index: int, block: bytes | memoryview, last: bool
) -> bytes:
    return seal_chunk(cipher, header, index, block, last=last)


def _open(
    cipher: AESGCM, header: Header, index: int, block: bytes | memoryview, last: bool
) -> bytes:
    return open_chunk(cipher, header, index, block, last=last)


async def decrypt(ctx: StepContext) -> None:
    """Decrypt a stream written by ``encrypt``, verifying every chunk before sending it on."""
    key = _key(ctx)
    cipher = new_cipher(key)
    prefix = bytearray()
    header: Header | None = None
    splitter: BlockSplitter | None = None
    index = 0
    async for chunk in ctx.input:
        data = memoryview(chunk).cast("B")
        while header is None and data:
            wanted = (header_length(bytes(prefix)) or FIXED_HEADER) - len(prefix)
            prefix += data[:wanted]
            data = data[wanted:]
            if len(prefix) == header_length(bytes(prefix)):
                header = open_header(bytes(prefix), key)
                splitter = BlockSplitter(header.chunk_size + TAG_BYTES)
        if header is None:
            continue
        assert splitter is not None
        opened = await run_cpu(_open_all, cipher, header, index, splitter, data)
        for frame in opened:
            await ctx.write(frame)
        index += len(opened)
    if header is None or splitter is None:
        if not prefix:
            raise InvalidEncryptedData("input is empty: an encrypted object has at least a header")
        raise InvalidEncryptedData("encrypted object is truncated inside its header")
    rest = splitter.rest()
    if not rest:
        where = f"after chunk {index - 1}" if index else "right after its header"
        raise DecryptionFailed(
            f"encrypted object is truncated: it ends {where}, without its final chunk"
        )
    await ctx.write(await run_cpu(_open, cipher, header, index, rest, True))


ENCRYPT = StepDefinition(
    name="encrypt",
    function=encrypt,
    params_model=EncryptParams,
    setup=key_setup,
    description="AES-256-GCM encrypt the stream in authenticated chunks",
)
DECRYPT = StepDefinition(
    name="decrypt",
    function=decrypt,
    params_model=DecryptParams,
    setup=key_setup,
    description="decrypt and verify a stream written by encrypt",
)
