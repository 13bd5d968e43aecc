"""Settling an execution a crash interrupted, before it is queued again.

Two crash windows need more than aborting the stored upload id:

* after ``CreateMultipartUpload`` reached the store but before its id was saved, an upload is
  open that the record does not name: every open upload of the execution's output key is
  aborted (the key is rendered from the template, so it is this execution's);
* after ``CompleteMultipartUpload`` made the output visible but before the record was saved
  as succeeded: the output key is HEADed, and when its ``bucketstream-execution`` marker is
  this execution's id the output is recorded instead of being written a second time.
"""

from __future__ import annotations

import logging

from storage_adapter import StorageError, StorageIO
from storage_adapter.uploads import abort_open_uploads, abort_upload_by_id, completed_output
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


async def abort_uploads_of_output(
    io: StorageIO, workflow: Workflow, record: ExecutionRecord
) -> int:
    """Abort every open multipart upload of the execution's output key; returns how many."""
    key = output_key_of(workflow, record)
    if key is None:
        return 0
    try:
        aborted = await io.call(abort_open_uploads, io.client, workflow.output.bucket, key)
    except StorageError as exc:
        logger.warning("execution %s: could not list or abort uploads: %s", record.id, exc)
        return 0
    return len(aborted)
