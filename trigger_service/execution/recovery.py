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
from typing import Any

from botocore.exceptions import ClientError

from storage_adapter import StorageError, StorageIO, strip_etag, version_or_none
from trigger_service.errors import TriggerServiceError
from trigger_service.execution.engine import MARKER_METADATA_KEY
from trigger_service.records import ExecutionRecord, ObjectRef
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
    bucket = workflow.output.bucket

    def head() -> dict[str, Any] | None:
        try:
            return dict(io.client.head_object(Bucket=bucket, Key=key))
        except ClientError:
            return None

    response = await io.call(head)
    if response is None or response.get("Metadata", {}).get(MARKER_METADATA_KEY) != record.id:
        return None
    return ObjectRef(
        bucket=bucket,
        key=key,
        etag=strip_etag(response.get("ETag")),
        size=int(response.get("ContentLength", 0)),
        version_id=version_or_none(response.get("VersionId")),
    )


async def abort_uploads_of_output(
    io: StorageIO, workflow: Workflow, record: ExecutionRecord
) -> int:
    """Abort every open multipart upload of the execution's output key; returns how many."""
    key = output_key_of(workflow, record)
    if key is None:
        return 0
    bucket = workflow.output.bucket
    client = io.client

    def sweep() -> int:
        aborted = 0
        paginator = client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=bucket, Prefix=key):
            for upload in page.get("Uploads", []):
                if upload.get("Key") != key:
                    continue
                try:
                    client.abort_multipart_upload(
                        Bucket=bucket, Key=key, UploadId=upload["UploadId"]
                    )
                    aborted += 1
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") not in {"NoSuchUpload", "404"}:
                        raise
        return aborted

    try:
        aborted = await io.call(sweep)
    except (ClientError, StorageError, OSError) as exc:
        logger.warning("execution %s: could not list or abort uploads: %s", record.id, exc)
        return 0
    if aborted:
        logger.info("execution %s: aborted %d open upload(s) of %s", record.id, aborted, key)
    return aborted
