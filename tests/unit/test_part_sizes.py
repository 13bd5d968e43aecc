"""Part sizes double every 1000 parts: with the default 8 MiB (or more), 10,000 parts cover
S3's largest object (5 TiB; 5 MiB parts reach 4.9 TiB)."""

from __future__ import annotations

import pytest

from storage_adapter.writer import (
    DEFAULT_PART_SIZE,
    MAX_PART_SIZE,
    MAX_PARTS,
    MultipartWriter,
    part_size_of,
)

MiB = 1024**2
TiB = 1024**4
MAX_OBJECT = 5 * TiB


def test_the_first_thousand_parts_keep_the_configured_size() -> None:
    assert {part_size_of(n, DEFAULT_PART_SIZE) for n in range(1, 1001)} == {DEFAULT_PART_SIZE}
    assert part_size_of(1001, DEFAULT_PART_SIZE) == 2 * DEFAULT_PART_SIZE
    assert part_size_of(2001, DEFAULT_PART_SIZE) == 4 * DEFAULT_PART_SIZE


@pytest.mark.parametrize("part_size", [DEFAULT_PART_SIZE, 16 * MiB, 64 * MiB])
def test_ten_thousand_parts_hold_the_largest_object_s3_stores(part_size: int) -> None:
    total = sum(part_size_of(n, part_size) for n in range(1, MAX_PARTS + 1))
    assert total >= MAX_OBJECT


def test_a_part_never_exceeds_s3s_largest_part() -> None:
    assert part_size_of(MAX_PARTS, 1024 * MiB) == MAX_PART_SIZE
    assert part_size_of(10**9, 5 * MiB) == MAX_PART_SIZE


def test_parts_per_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="parts_per_size"):
        MultipartWriter(object(), "b", "k", parts_per_size=0)  # type: ignore[arg-type]
