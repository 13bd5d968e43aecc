"""Part sizes double every 1000 parts up to a cap (64 MiB unless the output's bound needs
more): told to expect S3's largest object (5 TiB), 10,000 parts cover it."""

from __future__ import annotations

import pytest

from storage_adapter.part_sizes import (
    DEFAULT_PART_SIZE,
    MAX_PART_SIZE,
    MAX_PARTS,
    PART_SIZE_CAP,
    PARTS_PER_PART_SIZE,
    part_size_cap,
    part_size_of,
    parts_capacity,
)
from storage_adapter.writer import MultipartWriter

MiB = 1024**2
TiB = 1024**4
MAX_OBJECT = 5 * TiB


class FakeIO:
    """Enough of ``StorageIO`` to build a writer that never uploads."""

    client = object()


def test_the_first_thousand_parts_keep_the_configured_size() -> None:
    assert {part_size_of(n, DEFAULT_PART_SIZE) for n in range(1, 1001)} == {DEFAULT_PART_SIZE}
    assert part_size_of(1001, DEFAULT_PART_SIZE) == 2 * DEFAULT_PART_SIZE
    assert part_size_of(2001, DEFAULT_PART_SIZE) == 4 * DEFAULT_PART_SIZE


@pytest.mark.parametrize("part_size", [DEFAULT_PART_SIZE, 16 * MiB, 64 * MiB])
def test_ten_thousand_parts_hold_the_largest_object_s3_stores(part_size: int) -> None:
    cap = part_size_cap(MAX_OBJECT, part_size)
    total = sum(part_size_of(n, part_size, cap=cap) for n in range(1, MAX_PARTS + 1))
    assert total >= MAX_OBJECT
    assert total == parts_capacity(part_size, PARTS_PER_PART_SIZE, cap)


def test_parts_stop_growing_at_the_cap() -> None:
    sizes = {part_size_of(n, DEFAULT_PART_SIZE) for n in range(1, MAX_PARTS + 1)}
    assert max(sizes) == PART_SIZE_CAP == 64 * MiB
    writer = MultipartWriter(FakeIO(), "b", "k")  # type: ignore[arg-type]
    assert writer.part_size_cap == PART_SIZE_CAP


@pytest.mark.parametrize("max_output", [1 * MiB, 100 * 1024 * MiB, 400 * 1024 * MiB])
def test_the_cap_holds_outputs_of_up_to_hundreds_of_gibibytes(max_output: int) -> None:
    assert part_size_cap(max_output, DEFAULT_PART_SIZE) == PART_SIZE_CAP


def test_a_larger_max_output_raises_the_cap_just_enough() -> None:
    cap = part_size_cap(MAX_OBJECT, DEFAULT_PART_SIZE)
    assert parts_capacity(DEFAULT_PART_SIZE, PARTS_PER_PART_SIZE, cap) >= MAX_OBJECT
    assert parts_capacity(DEFAULT_PART_SIZE, PARTS_PER_PART_SIZE, cap // 2) < MAX_OBJECT
    writer = MultipartWriter(FakeIO(), "b", "k", max_output_bytes=MAX_OBJECT)  # type: ignore[arg-type]
    assert writer.part_size_cap == cap <= MAX_PART_SIZE


def test_a_part_never_exceeds_s3s_largest_part() -> None:
    assert part_size_of(MAX_PARTS, 1024 * MiB, cap=MAX_PART_SIZE) == MAX_PART_SIZE
    assert part_size_of(10**9, 5 * MiB, cap=10 * MAX_PART_SIZE) == MAX_PART_SIZE
    assert part_size_of(1, 6 * 1024 * MiB) == MAX_PART_SIZE


def test_parts_per_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="parts_per_size"):
        MultipartWriter(object(), "b", "k", parts_per_size=0)  # type: ignore[arg-type]
