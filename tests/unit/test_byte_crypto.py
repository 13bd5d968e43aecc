"""encrypt/decrypt: round trips over every chunk cut, and every kind of damage detected."""

from __future__ import annotations

import base64
import os
import random
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bridge import StageFailed
from steps import StepConfigError, configure_step
from steps.bytes import DECRYPT, ENCRYPT
from steps.bytes.blocks import BlockSplitter
from steps.bytes.keys import KeyParams, SecretKey, load_key
from steps.bytes.sealed import TAG_BYTES, new_header, seal_chunk
from steps.errors import (
    DecryptionFailed,
    InvalidEncryptedData,
    KeyUnavailable,
    WrongKey,
)
from tests.support.byte_steps import cut_positions, cuts, run_byte_step
from tests.support.fakes import MemorySink

pytestmark = pytest.mark.anyio

KEY = os.urandom(32)
OTHER_KEY = os.urandom(32)
CHUNK = 4096


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_KEY", base64.b64encode(KEY).decode())
    monkeypatch.setenv("OTHER_KEY", base64.b64encode(OTHER_KEY).decode())


def enc_params(**extra: object) -> dict[str, object]:
    return {"key_env": "TEST_KEY", "chunk_size": CHUNK, **extra}


async def encrypt(data: bytes, **extra: object) -> bytes:
    return (await run_byte_step(ENCRYPT, [data], enc_params(**extra))).output


async def decrypt(data: bytes | list[bytes], key_env: str = "TEST_KEY", **extra: object) -> bytes:
    chunks = [data] if isinstance(data, bytes) else data
    return (await run_byte_step(DECRYPT, chunks, {"key_env": key_env, **extra})).output


async def fails_with(data: bytes, error: type[Exception], key_env: str = "TEST_KEY") -> str:
    sink = MemorySink()
    with pytest.raises(StageFailed) as caught:
        await run_byte_step(DECRYPT, [data], {"key_env": key_env}, sink=sink)
    assert type(caught.value.error) is error, caught.value.error
    assert sink.aborted == 1 and not sink.committed
    return str(caught.value.error)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 7])
async def test_round_trip_and_size_formula(size: int) -> None:
    data = os.urandom(size)
    sealed = await encrypt(data)
    assert len(sealed) == 38 + size + TAG_BYTES * (size // CHUNK + 1)
    assert await decrypt(sealed) == data


def test_block_splitter_gives_the_same_blocks_for_every_cut() -> None:
    data = os.urandom(3 * 64 + 17)
    for first in range(len(data) + 1):
        for second in range(first, len(data) + 1, 5):
            splitter = BlockSplitter(64)
            blocks = [bytes(b) for c in cuts(data, first, second) for b in splitter.feed(c)]
            assert blocks == [data[i : i + 64] for i in range(0, 192, 64)]
            assert splitter.rest() == data[192:]


async def test_cuts_of_the_plaintext_round_trip() -> None:
    data = os.urandom(2 * CHUNK + 900)
    for position in cut_positions(len(data), [CHUNK, 2 * CHUNK]):
        sealed = await run_byte_step(ENCRYPT, cuts(data, position), enc_params())
        assert await decrypt(sealed.output) == data, position


async def test_every_cut_of_the_ciphertext_decrypts() -> None:
    data = os.urandom(CHUNK + 900)
    sealed = await encrypt(data, key_id="k1")
    header = 38 + 2
    boundaries = [4, 5, 22, header, header + CHUNK + TAG_BYTES]
    for position in [*range(header + 1), *cut_positions(len(sealed), boundaries)]:
        assert await decrypt(cuts(sealed, position)) == data, position
    rng = random.Random(7)
    for _ in range(50):
        positions = sorted(rng.sample(range(1, len(sealed)), 4))
        assert await decrypt(cuts(sealed, *positions)) == data


async def test_frames_are_chunk_sized_and_sent_only_once_verified() -> None:
    data = os.urandom(3 * CHUNK + 10)
    sealed = await encrypt(data)
    run = await run_byte_step(DECRYPT, [sealed], {"key_env": "TEST_KEY"})
    assert [len(f) for f in run.frames] == [CHUNK, CHUNK, CHUNK, 10]


async def test_key_id_is_in_the_header_and_checked() -> None:
    sealed = await encrypt(b"hello", key_id="2026-12")
    assert b"2026-12" in sealed[:40]
    assert await decrypt(sealed, key_id="2026-12") == b"hello"
    sink = MemorySink()
    with pytest.raises(StageFailed) as caught:
        await run_byte_step(
            DECRYPT, [sealed], {"key_env": "TEST_KEY", "key_id": "2027-01"}, sink=sink
        )
    assert isinstance(caught.value.error, WrongKey)
    assert "'2026-12'" in str(caught.value.error)


async def test_wrong_key_is_named_as_such() -> None:
    sealed = await encrypt(os.urandom(10_000))
    message = await fails_with(sealed, WrongKey, key_env="OTHER_KEY")
    assert "OTHER_KEY" in message
    assert base64.b64encode(OTHER_KEY).decode() not in message


async def test_every_flipped_byte_is_detected() -> None:
    sealed = bytearray(await encrypt(os.urandom(CHUNK + 100), key_id="k"))
    header = 38 + 1
    tags = [header + CHUNK + d for d in range(TAG_BYTES)] + list(
        range(len(sealed) - 16, len(sealed))
    )
    for position in sorted({*range(header + 2), *tags, *range(0, len(sealed), 211)}):
        damaged = bytearray(sealed)
        damaged[position] ^= 0x01
        sink = MemorySink()
        with pytest.raises(StageFailed) as caught:
            await run_byte_step(DECRYPT, [bytes(damaged)], {"key_env": "TEST_KEY"}, sink=sink)
        assert isinstance(caught.value.error, InvalidEncryptedData | WrongKey | DecryptionFailed), (
            position
        )
        assert sink.aborted == 1 and not sink.committed


@pytest.mark.parametrize("cut", ["boundary", "inside", "tag"])
async def test_truncation_is_detected(cut: str) -> None:
    sealed = await encrypt(os.urandom(2 * CHUNK + 100))
    header = 38
    end = {
        "boundary": header + 2 * (CHUNK + TAG_BYTES),
        "inside": header + CHUNK + 50,
        "tag": len(sealed) - 1,
    }[cut]
    message = await fails_with(sealed[:end], DecryptionFailed)
    assert "truncated" in message or "authentication" in message


async def test_header_alone_is_truncated() -> None:
    sealed = await encrypt(b"")
    assert "right after its header" in await fails_with(sealed[:38], DecryptionFailed)


async def test_appended_bytes_are_detected() -> None:
    sealed = await encrypt(os.urandom(CHUNK + 100))
    await fails_with(sealed + b"x", DecryptionFailed)
    await fails_with(sealed + os.urandom(CHUNK + TAG_BYTES), DecryptionFailed)


async def test_appended_genuine_chunk_and_reordering_are_detected() -> None:
    key = SecretKey(KEY, origin="test")
    header = new_header(key, CHUNK)
    cipher = AESGCM(KEY)
    blocks = [os.urandom(CHUNK), os.urandom(CHUNK), os.urandom(10)]
    sealed = [seal_chunk(cipher, header, i, block, last=i == 2) for i, block in enumerate(blocks)]
    assert await decrypt(header.raw + b"".join(sealed)) == b"".join(blocks)
    swapped = header.raw + sealed[1] + sealed[0] + sealed[2]
    await fails_with(swapped, DecryptionFailed)
    repeated = header.raw + sealed[0] + sealed[0] + sealed[2]
    await fails_with(repeated, DecryptionFailed)
    # a whole-object-looking prefix: chunk 0 sealed as last, then more chunks after it
    early_last = seal_chunk(cipher, header, 0, blocks[0][:10], last=True)
    await fails_with(header.raw + early_last + sealed[1], DecryptionFailed)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "empty"),
        (b"PK\x03\x04 not ours at all, a zip file" * 3, "not an object written by"),
        (b"BSEC", "truncated inside its header"),
        (b"BSEC\x09" + bytes(40), "version 9"),
    ],
)
async def test_foreign_input_is_invalid_encrypted_data(data: bytes, needle: str) -> None:
    assert needle in await fails_with(data, InvalidEncryptedData)


async def test_header_with_absurd_chunk_size_is_refused() -> None:
    sealed = bytearray(await encrypt(b"abc"))
    sealed[6:10] = (1 << 31).to_bytes(4, "big")
    assert "chunk size" in await fails_with(bytes(sealed), InvalidEncryptedData)


def test_key_params_need_exactly_one_source() -> None:
    for params in ({}, {"key_env": "A", "key_file": "/k"}):
        with pytest.raises(StepConfigError, match="exactly one of key_env"):
            configure_step(ENCRYPT, params)
    with pytest.raises(StepConfigError, match="not an environment variable name"):
        configure_step(ENCRYPT, {"key_env": "A-B"})
    with pytest.raises(StepConfigError, match="chunk_size"):
        configure_step(ENCRYPT, {"key_env": "A", "chunk_size": 10})


def test_keys_from_env_and_files(tmp_path: Path) -> None:
    raw = tmp_path / "raw.key"
    raw.write_bytes(KEY)
    text = tmp_path / "b64.key"
    text.write_text(base64.urlsafe_b64encode(KEY).decode() + "\n")
    for params in (
        KeyParams(key_env="TEST_KEY"),
        KeyParams(key_file=raw),
        KeyParams(key_file=text),
    ):
        assert load_key(params).material == KEY
    key = load_key(KeyParams(key_env="TEST_KEY", key_id="k1"))
    assert repr(key) == "SecretKey(origin='environment variable TEST_KEY', key_id='k1')"
    assert KEY.hex() not in repr(key) and base64.b64encode(KEY).decode() not in repr(key)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "is not set"),
        ({"K": "not base64 !!"}, "not base64"),
        ({"K": base64.b64encode(b"short").decode()}, "decodes to 5 bytes"),
    ],
)
def test_unusable_keys_are_refused_without_showing_them(env: dict[str, str], message: str) -> None:
    with pytest.raises(KeyUnavailable, match=message) as caught:
        load_key(KeyParams(key_env="K"), env)
    for value in env.values():
        assert value not in str(caught.value)


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyUnavailable, match="cannot read key file"):
        load_key(KeyParams(key_file=tmp_path / "absent"))
