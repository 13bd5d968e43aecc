"""Settling an execution whose worker died, once this worker has taken its lease over.

The upload id the record names is aborted. Two crash windows need more than that:

* after ``CreateMultipartUpload`` reached the store but before its id was saved, an upload is
  open that the record does not name. Several workers may write the same output key (a
  template without ``{execution_id}``), so :func:`abort_orphan_uploads` never aborts an
  upload an unfinished record names (a live execution saves its upload id right after
  creating it). When no other live execution of the same input may be between creating its
  upload and saving the id, every other open upload of the key is the dead attempt's; when
  one may be, only uploads the storage says were initiated after the dead attempt started
  and before a grace period (half a lease) are (the others are left for the bucket's
  lifecycle rule: aborting a live writer's upload would fail its execution);
* after ``CompleteMultipartUpload`` made the output visible but before the record was saved
  as succeeded: the output key is HEADed, and when its ``bucketstream-execution`` marker is
  this execution's id the output is recorded instead of being written a second time.

A fan-out execution has one output key per branch, so both windows are handled per branch:
every branch's key is swept for open uploads, and its outputs are recorded only when every
branch committed one; when only some did (the crash fell between two completions), those are
deleted again — all or nothing — and the execution runs again.

"Committed" is decided only from answers: a HEAD answered 404 means "not there"; a HEAD that
failed (a 5xx, a timeout, a refused connection) raises :class:`OutputUnknown`, before anything
is deleted, and the takeover is tried again later.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta

from botocore.exceptions import ClientError

from storage_adapter import ObjectInfo, StorageError, StorageIO, WriteResult
from storage_adapter.uploads import (
    OpenUpload,
    abort_upload,
    abort_upload_by_id,
    completed_output,
    list_open_uploads,
)
from trigger_service.errors import OutputUnknown, TriggerServiceError
from trigger_service.execution.sinks import delete_output
from trigger_service.records import ExecutionRecord, ObjectRef, OutputRef
from trigger_service.workflows.branches import Branch
from trigger_service.workflows.loops import output_marker
from trigger_service.workflows.model import Workflow

logger = logging.getLogger(__name__)


def output_key_of(
    workflow: Workflow, record: ExecutionRecord, branch: Branch | None = None
) -> str | None:
    """The output key this execution writes (of ``branch``, default the first), or None if
    the template no longer renders."""
    try:
        return (branch or workflow.branches[0]).render_key(record.input.key, record.id)
    except TriggerServiceError:
        return None


async def committed_output(
    io: StorageIO, workflow: Workflow, record: ExecutionRecord
) -> ObjectRef | list[OutputRef] | None:
    """The output this execution already committed, if the store holds it.

    Of a fan-out: every branch's output when all are committed; else None, after deleting
    the ones that were. Raises :class:`OutputUnknown` (nothing deleted) when a HEAD got no
    answer.
    """
    if not workflow.fan_out:
        found = await _committed(io, workflow.branches[0], record)
        return None if found is None else ObjectRef.of(found)
    outputs = [(branch.name, await _committed(io, branch, record)) for branch in workflow.branches]
    committed = [
        OutputRef(name=name, **ObjectRef.of(found).model_dump())
        for name, found in outputs
        if found is not None
    ]
    if len(committed) == len(outputs):
        return committed
    for output in committed:
        await _delete_partial(io, record, output)
    return None


async def _committed(io: StorageIO, branch: Branch, record: ExecutionRecord) -> ObjectInfo | None:
    try:
        key = branch.render_key(record.input.key, record.id)
    except TriggerServiceError:
        return None
    try:
        return await io.call(
            completed_output,
            io.client,
            branch.output.bucket,
            key,
            metadata=output_marker(record.id),
        )
    except StorageError as exc:
        raise OutputUnknown(
            f"could not learn whether execution {record.id} committed "
            f"s3://{branch.output.bucket}/{key}: {exc}; its takeover is tried again later"
        ) from exc


async def _delete_partial(io: StorageIO, record: ExecutionRecord, output: OutputRef) -> None:
    written = WriteResult(
        bucket=output.bucket,
        key=output.key,
        etag=output.etag,
        size=output.size or 0,
        parts=0,
        version_id=output.version_id,
    )
    try:
        await delete_output(io, written, record.id)
    except (StorageError, ClientError) as exc:
        logger.warning("execution %s: could not delete %s: %s", record.id, output.key, exc)


async def abort_recorded_upload(io: StorageIO, workflow: Workflow, record: ExecutionRecord) -> bool:
    """Abort ``record.upload_id`` in the workflow's output bucket; True when it was aborted.

    The key is rendered again from the output template; if the upload is not found under it
    (the template changed), the bucket's open uploads are searched for the id.
    """
    upload_id = record.upload_id
    if upload_id is None:
        return False
    key = output_key_of(workflow, record)
    try:
        aborted = await io.call(
            abort_upload_by_id, io.client, workflow.output.bucket, upload_id, key=key
        )
    except StorageError as exc:
        logger.warning(
            "execution %s: could not abort multipart upload %s: %s", record.id, upload_id, exc
        )
        return False
    if aborted:
        logger.info("execution %s: aborted its multipart upload %s", record.id, upload_id)
    return aborted


#: What the store says after the uploads were listed: the upload ids unfinished records name,
#: and whether another live execution of the input may hold an upload it has not named yet.
LiveState = Callable[[], Awaitable[tuple[Collection[str], bool]]]


async def abort_orphan_uploads(
    io: StorageIO,
    workflow: Workflow,
    record: ExecutionRecord,
    *,
    live_state: LiveState,
    now: datetime,
    grace: float,
) -> list[str]:
    """Abort the open uploads of the output keys that the dead attempt of ``record`` left.

    The uploads of every output key (one per output of a fan-out) are listed first and
    ``live_state`` asked afterwards, so an upload a live execution creates meanwhile is either
    not listed or already visible to the store. Named uploads are never aborted, except the
    ones this record names itself (a fan-out's ``upload_ids``, cleared here). When another
    writer may be pending, an upload is aborted only if initiated after ``record.started_at``
    and more than ``grace`` seconds ago. Returns the ids aborted.
    """
    own = set(record.upload_ids.values())
    record.upload_ids = {}
    keys = [(b.output.bucket, output_key_of(workflow, record, b)) for b in workflow.branches]
    try:
        listed = [
            (bucket, key, await io.call(list_open_uploads, io.client, bucket, key=key))
            for bucket, key in keys
            if key is not None
        ]
        if not any(uploads for _, _, uploads in listed):
            return []
        live_ids, writer_pending = await live_state()
    except StorageError as exc:
        logger.warning("execution %s: could not list open uploads: %s", record.id, exc)
        return []
    started = record.started_at or now
    # A second of slack for the storage's clock, which may round to seconds.
    since = started - timedelta(seconds=1)
    until = now - timedelta(seconds=grace)

    def orphan(upload: OpenUpload) -> bool:
        if upload.upload_id in own:
            return True
        if upload.upload_id in live_ids:
            return False
        if not writer_pending:
            return True
        return upload.initiated is not None and since <= upload.initiated <= until

    aborted: list[str] = []
    for bucket, key, uploads in listed:

        def abort_all(orphans: list[OpenUpload], bucket: str = bucket, key: str = key) -> list[str]:
            return [
                u.upload_id for u in orphans if abort_upload(io.client, bucket, key, u.upload_id)
            ]

        try:
            done = await io.call(abort_all, [u for u in uploads if orphan(u)])
        except StorageError as exc:
            logger.warning("execution %s: could not abort uploads: %s", record.id, exc)
            continue
        if done:
            logger.info(
                "execution %s: aborted %d orphaned upload(s) of %s", record.id, len(done), key
            )
        aborted += done
    return aborted
