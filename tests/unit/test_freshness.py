"""Ordering two writes of an input, and telling A written again after B from A."""

from __future__ import annotations

from datetime import UTC, datetime

from trigger_service.freshness import InputOrder, is_older, padded_sequencer, write_identity
from trigger_service.intake.routing import idempotency_key
from trigger_service.records import ObjectRef

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
T1 = datetime(2026, 1, 2, 3, 4, 7, tzinfo=UTC)


def _ref(**fields: object) -> ObjectRef:
    return ObjectRef.model_validate({"bucket": "b", "key": "k", "etag": "e", **fields})


def test_sequencers_compare_left_padded_as_aws_documents() -> None:
    assert padded_sequencer("0A") < padded_sequencer("617f08299329d189")
    short = InputOrder("b", "k", sequencer="FF")
    long = InputOrder("b", "k", sequencer="0100")
    assert is_older(short, long) and not is_older(long, short)


def test_sequencers_of_different_keys_fall_back_to_last_modified() -> None:
    a = InputOrder("b", "k1", last_modified=T1.timestamp(), sequencer="01")
    b = InputOrder("b", "k2", last_modified=T0.timestamp(), sequencer="FF")
    assert is_older(b, a) and not is_older(a, b)


def test_an_undecided_order_is_never_older() -> None:
    same_second = InputOrder("b", "k", last_modified=T0.timestamp())
    assert not is_older(same_second, same_second)
    assert not is_older(InputOrder("b", "k"), InputOrder("b", "k", last_modified=1.0))


def test_a_written_again_after_b_is_a_new_write() -> None:
    first_a = idempotency_key("w", "b", "k", version_id=None, etag="a", last_modified=T0)
    again = idempotency_key("w", "b", "k", version_id=None, etag="a", last_modified=T1)
    assert first_a != again
    redelivered = idempotency_key("w", "b", "k", version_id=None, etag="a", last_modified=T0)
    assert redelivered == first_a


def test_a_sequencer_tells_writes_of_one_second_apart() -> None:
    one = write_identity(_ref(sequencer="0A", last_modified=T0))
    two = write_identity(_ref(sequencer="0B", last_modified=T0))
    assert one != two
    assert write_identity(_ref(sequencer="0a", last_modified=T1)) == one


def test_a_version_id_alone_identifies_a_write() -> None:
    assert write_identity(_ref(version_id="v1", last_modified=T0)) == write_identity(
        _ref(version_id="v1", etag="other", last_modified=T1)
    )
