"""Ranged reads cover every byte once; asked to start small, they double up to the chunk size."""

from __future__ import annotations

import pytest

from storage_adapter.reader import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_FIRST_RANGE,
    iter_range_spans,
    range_count,
    range_spans,
)

KiB, MiB = 1024, 1024 * 1024


def covered(spans: list[tuple[int, int]]) -> int:
    position = 0
    for start, end in spans:
        assert start == position and end >= start
        position = end + 1
    return position


@pytest.mark.parametrize("size", [1, 1000, 256 * KiB, 256 * KiB + 1, 8 * MiB, 7_941_847, 1 << 30])
def test_every_byte_once_in_order(size: int) -> None:
    assert covered(range_spans(size, 2 * MiB)) == size


def test_ranges_double_up_to_the_chunk_size() -> None:
    lengths = [end - start + 1 for start, end in range_spans(8 * MiB, 2 * MiB, first=256 * KiB)]
    assert lengths == [256 * KiB, 512 * KiB, 1 * MiB, 2 * MiB, 2 * MiB, 2 * MiB, 256 * KiB]


def test_by_default_every_range_is_a_whole_chunk() -> None:
    assert DEFAULT_FIRST_RANGE == DEFAULT_CHUNK_SIZE
    lengths = [end - start + 1 for start, end in range_spans(7 * MiB, 2 * MiB)]
    assert lengths == [2 * MiB, 2 * MiB, 2 * MiB, 1 * MiB]


def test_no_range_is_larger_than_the_chunk_size() -> None:
    spans = range_spans(100 * MiB, 1 * MiB, first=4 * MiB)  # a first range above the chunk
    assert {end - start + 1 for start, end in spans} == {1 * MiB}


def test_a_small_start_costs_a_large_object_only_a_few_more_requests() -> None:
    assert len(range_spans(1 << 30, 2 * MiB)) == 512
    assert len(range_spans(1 << 30, 2 * MiB, first=256 * KiB)) == 512 + 3  # 0.25 + 0.5 + 1 MiB


def test_empty_object_has_no_range() -> None:
    assert range_spans(0, 2 * MiB) == []


@pytest.mark.parametrize("first", [1, 256 * KiB, 2 * MiB, 4 * MiB])
@pytest.mark.parametrize("size", [0, 1, 1000, 256 * KiB + 1, 8 * MiB, 7_941_847, 1 << 30])
def test_the_count_of_ranges_is_known_without_making_them(size: int, first: int) -> None:
    assert range_count(size, 2 * MiB, first) == len(range_spans(size, 2 * MiB, first))


def test_a_five_tebibyte_object_is_counted_not_listed() -> None:
    assert range_count(5 * 1024**4, 2 * MiB) == 5 * 1024**4 // (2 * MiB)
    spans = iter_range_spans(5 * 1024**4, 2 * MiB)
    assert next(spans) == (0, 2 * MiB - 1)
