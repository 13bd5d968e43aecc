"""Settling an execution whose worker died, once this worker has taken its lease over.

The upload id the record names is aborted. Two crash windows need more than that:

* after ``CreateMultipartUpload`` reached the store but before its id was saved, an upload is
  open that the record does not name. Several workers may write the same output key (a
  template without ``{execution_id}``), so only uploads that can be attributed to the dead
  execution are aborted (:func:`abort_orphan_uploads`): initiated after the dead attempt
  started, not named by any unfinished record (a live execution saves its upload id right
  after creating it), and older than a grace period (half a lease) that covers a live
  execution between creating an upload and saving its id;
* after ``CompleteMultipartUpload`` made the output visible but before the record was saved
  as succeeded: the output key is HEADed, and when its ``bucketstream-execution`` marker is
  this execution's id the output is recorded instead of being written a second time.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta

from storage_adapter import StorageError, StorageIO
from storage_adapter.uploads import (
    OpenUpload,
    abort_upload,
    abort_upload_by_id,
    completed_output,
    list_open_uploads,
)
from trigger_service.errors import TriggerServiceError
from trigger_service.records import ExecutionRecord, ObjectRef
from trigger_service.workflows.loops import output_marker
from trigger_service.workflows.model import Workflow

logger = logging.getLogger(__name__)


def output_key_of(workflow: Workflow, record: ExecutionRecord) -> str | None:
    """The output key this execution writes, or None if the template no longer renders."""
    try:
        return workflow.output_key.render(
            record.input.key, execution_id=record.id, output_format=workflow.output_format
        )
    except TriggerServiceError:
        return None


async def committed_output(
    io: StorageIO, workflow: Workflow, record: ExecutionRecord
) -> ObjectRef | None:
    """The output this execution already committed, if the store holds it."""
    key = output_key_of(workflow, record)
    if key is None:
        return None
    try:
        found = await io.call(
            completed_output,
            io.client,
            workflow.output.bucket,
            key,
            metadata=output_marker(record.id),
        )
    except StorageError as exc:
        logger.warning("execution %s: could not look for its output: %s", record.id, exc)
        return None
    return None if found is None else ObjectRef.of(found)


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


async def abort_orphan_uploads(
    io: StorageIO,
    workflow: Workflow,
    record: ExecutionRecord,
    *,
    live_upload_ids: Collection[str],
    now: datetime,
    grace: float,
) -> list[str]:
    """Abort the open uploads of the output key that the dead attempt of ``record`` left.

    An upload counts as the dead attempt's when it was initiated after ``record.started_at``,
    no unfinished record names it (``live_upload_ids``) and it is older than ``grace``
    seconds. Returns the ids aborted.
    """
    key = output_key_of(workflow, record)
    if key is None or record.started_at is None:
        return []
    # A second of slack for the storage's clock, which may round to seconds.
    since = record.started_at - timedelta(seconds=1)
    until = now - timedelta(seconds=grace)

    def orphan(upload: OpenUpload) -> bool:
        return (
            upload.upload_id not in live_upload_ids
            and upload.initiated is not None
            and since <= upload.initiated <= until
        )

    def sweep() -> list[str]:
        bucket = workflow.output.bucket
        uploads = list_open_uploads(io.client, bucket, key=key)
        return [
            upload.upload_id
            for upload in uploads
            if orphan(upload) and abort_upload(io.client, bucket, key, upload.upload_id)
        ]

    try:
        aborted = await io.call(sweep)
    except StorageError as exc:
        logger.warning("execution %s: could not list or abort uploads: %s", record.id, exc)
        return []
    if aborted:
        logger.info(
            "execution %s: aborted %d orphaned upload(s) of %s", record.id, len(aborted), key
        )
    return aborted
