"""Settling an execution a crash interrupted, before it is queued again.

Two crash windows need more than aborting the stored upload id:

* after ``CreateMultipartUpload`` reached the store but before its id was saved, an upload is
  open that the record does not name: every open upload of the execution's output key is
  aborted (the key is rendered from the template, so it is this execution's);
* after ``CompleteMultipartUpload`` made the output visible but before the record was saved
  as succeeded: the output key is HEADed, and when its ``bucketstream-execution`` marker is
  this execution's id the output is recorded instead of being written a second time.

A fan-out execution has one output key per branch, so both windows are handled per branch:
every branch's key is swept for open uploads, and its outputs are recorded only when every
branch committed one; when only some did (the crash fell between two completions), those are
deleted again — all or nothing — and the execution runs again.
"""

from __future__ import annotations

import logging

from botocore.exceptions import ClientError

from storage_adapter import ObjectInfo, StorageError, StorageIO, WriteResult
from storage_adapter.uploads import abort_open_uploads, abort_upload_by_id, completed_output
from trigger_service.errors import TriggerServiceError
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
    the ones that were.
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
        logger.warning("execution %s: could not look for its output: %s", record.id, exc)
        return None


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


async def abort_uploads_of_output(
    io: StorageIO, workflow: Workflow, record: ExecutionRecord
) -> int:
    """Abort every open multipart upload of the execution's output keys; returns how many.

    Every branch's key is swept, so a fan-out's ``upload_ids`` are settled too (and cleared).
    """
    total = 0
    for branch in workflow.branches:
        key = output_key_of(workflow, record, branch)
        if key is None:
            continue
        try:
            aborted = await io.call(abort_open_uploads, io.client, branch.output.bucket, key)
        except StorageError as exc:
            logger.warning("execution %s: could not list or abort uploads: %s", record.id, exc)
            continue
        total += len(aborted)
    record.upload_ids = {}
    return total
