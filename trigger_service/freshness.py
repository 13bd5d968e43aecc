"""Which of two writes of an input is newer, and the identity of one write.

S3 gives two orders. An event's ``sequencer`` orders the events of one key: of two, the one
with the greater value (compared as hexadecimal strings after left-padding the shorter with
zeros, as AWS documents) was written later; sequencers of different keys say nothing.
``Last-Modified`` (whole seconds) orders any two writes a second apart or more. Version ids
are opaque (AWS documents no order), so they identify a write but never order two.

:func:`is_older` uses the sequencers when both writes have one and are of one key, else
``Last-Modified``; when neither decides (the same second, no sequencer) it answers False: a
run is only skipped when its input is known to be older.

:func:`write_identity` is what makes a write of a key unique for the idempotency key: the
version id where the bucket is versioned; else the etag with the sequencer, or with the
``Last-Modified`` when the event had no sequencer (moto sends none), so putting A, then B,
then A again starts a third execution while a redelivered event does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from storage_adapter import version_or_none
from trigger_service.records import ObjectRef

#: Width sequencers are left-padded to before they are compared.
SEQUENCER_WIDTH = 64


def padded_sequencer(sequencer: str) -> str:
    """``sequencer`` upper-cased and left-padded with zeros, so text order is write order."""
    return sequencer.strip().upper().rjust(SEQUENCER_WIDTH, "0")


@dataclass(frozen=True)
class InputOrder:
    """What orders one write of an input object against another."""

    bucket: str
    key: str
    #: Seconds since the epoch of ``Last-Modified``.
    last_modified: float | None = None
    sequencer: str | None = None
    version_id: str | None = None
    etag: str | None = None

    @classmethod
    def of(cls, ref: ObjectRef) -> InputOrder:
        """The order of the input ``ref`` names."""
        modified = ref.last_modified
        return cls(
            bucket=ref.bucket,
            key=ref.key,
            last_modified=None if modified is None else modified.timestamp(),
            sequencer=ref.sequencer or None,
            version_id=version_or_none(ref.version_id),
            etag=ref.etag,
        )

    def describe(self) -> str:
        """A short text for messages: the key, version or etag, and when it was written."""
        which = f"version {self.version_id}" if self.version_id else f"etag {self.etag}"
        when = (
            datetime.fromtimestamp(self.last_modified, UTC).isoformat().replace("+00:00", "Z")
            if self.last_modified is not None
            else "an unknown time"
        )
        return f"s3://{self.bucket}/{self.key} ({which}, written {when})"


def is_older(write: InputOrder, than: InputOrder) -> bool:
    """Whether ``write`` is known to have happened before ``than`` (see the module doc)."""
    same_key = (write.bucket, write.key) == (than.bucket, than.key)
    if same_key and write.sequencer and than.sequencer:
        return padded_sequencer(write.sequencer) < padded_sequencer(than.sequencer)
    if write.last_modified is not None and than.last_modified is not None:
        return int(write.last_modified) < int(than.last_modified)
    return False


def write_identity(ref: ObjectRef) -> str:
    """What tells this write of ``ref``'s key from every other (see the module doc).

    Raises ValueError when ``ref`` has neither a version id nor an etag.
    """
    version = version_or_none(ref.version_id)
    if version is not None:
        return f"version:{version}"
    if not ref.etag:
        raise ValueError("an idempotency key needs a version id or an etag")
    if ref.sequencer:
        return f"etag:{ref.etag}:sequencer:{padded_sequencer(ref.sequencer)}"
    if ref.last_modified is not None:
        return f"etag:{ref.etag}:modified:{int(ref.last_modified.timestamp())}"
    return f"etag:{ref.etag}"
