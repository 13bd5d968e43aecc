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


async def abort_upload(io: StorageIO, workflow: Workflow, record: ExecutionRecord) -> bool:
    """Abort ``record.upload_id`` in the workflow's output bucket; True when it was aborted.

    The key is rendered again from the output template; if the upload is not found under it
    (the template changed), the bucket's open uploads are searched for the id.
    """
    upload_id = record.upload_id
    if upload_id is None:
        return False
    bucket = workflow.output.bucket
    client = io.client
    key = output_key_of(workflow, record)

    def find_key() -> str | None:
        paginator = client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=bucket):
            for upload in page.get("Uploads", []):
                if upload.get("UploadId") == upload_id:
                    return upload.get("Key")
        return None

    def abort(key: str) -> bool:
        return _abort(client, bucket, key, upload_id)

    try:
        if key is not None and await io.call(abort, key):
            logger.info("execution %s: aborted its multipart upload %s", record.id, upload_id)
            return True
        found = await io.call(find_key)
        if found is not None and await io.call(abort, found):
            logger.info("execution %s: aborted its multipart upload %s", record.id, upload_id)
            return True
    except (ClientError, StorageError, OSError) as exc:
        logger.warning(
            "execution %s: could not abort multipart upload %s: %s", record.id, upload_id, exc
        )
    return False


def _abort(client: Any, bucket: str, key: str, upload_id: str) -> bool:
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"NoSuchUpload", "404"}:
            return False
        raise
    return True


async def abort_orphan_uploads(
    io: StorageIO,
    workflow: Workflow,
    record: ExecutionRecord,
    *,
    live_upload_ids: Collection[str],
    now: datetime,
    grace: float,
) -> int:
    """Abort the open uploads of the output key that the dead attempt of ``record`` left.

    An upload counts as the dead attempt's when it was initiated after ``record.started_at``,
    no unfinished record names it (``live_upload_ids``) and it is older than ``grace``
    seconds. Returns how many were aborted.
    """
    key = output_key_of(workflow, record)
    if key is None or record.started_at is None:
        return 0
    bucket = workflow.output.bucket
    client = io.client
    # A second of slack for the storage's clock, coarser than ours.
    since = record.started_at - timedelta(seconds=1)
    until = now - timedelta(seconds=grace)

    def sweep() -> int:
        aborted = 0
        paginator = client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=bucket, Prefix=key):
            for upload in page.get("Uploads", []):
                initiated = upload.get("Initiated")
                if (
                    upload.get("Key") != key
                    or upload["UploadId"] in live_upload_ids
                    or not isinstance(initiated, datetime)
                    or not since <= initiated <= until
                ):
                    continue
                aborted += _abort(client, bucket, key, upload["UploadId"])
        return aborted

    try:
        aborted = await io.call(sweep)
    except (ClientError, StorageError, OSError) as exc:
        logger.warning("execution %s: could not list or abort uploads: %s", record.id, exc)
        return 0
    if aborted:
        logger.info("execution %s: aborted %d orphaned upload(s) of %s", record.id, aborted, key)
    return aborted
