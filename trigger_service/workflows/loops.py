"""The loop guard, in one place: no output ever starts a workflow again.

Three layers, each cheap and each enough on its own for the case it covers:

1. **At load** (:func:`output_could_trigger_itself`): a workflow whose output keys could
   match its own trigger is rejected unless an output prefix or suffix excludes them.
2. **On routing** (:func:`under_own_output`): a key under the workflow's own output prefix in
   its output bucket never starts it, before any request is made.
3. **On the object** (:func:`marker_reason`): outputs carry ``x-amz-meta-bucketstream-execution``
   (:func:`output_marker`) and direct uploads of synchronous executions
   ``x-amz-meta-bucketstream-upload`` (:func:`upload_marker`); the HEAD before an execution and
   the engine's own pinned HEAD both refuse them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trigger_service.events.types import IgnoredRecord
from trigger_service.workflows.keys import FORMAT_EXTENSIONS

if TYPE_CHECKING:
    from collections.abc import Mapping

    from trigger_service.workflows.model import Workflow

#: User metadata key marking every output with the execution that wrote it.
MARKER_METADATA_KEY = "bucketstream-execution"
#: User metadata key marking objects stored by a synchronous execution's direct upload.
UPLOAD_METADATA_KEY = "bucketstream-upload"

#: Reasons of the :class:`IgnoredRecord` values the loop guard produces.
REASON_OWN_OUTPUT = "under_output_prefix"
REASON_EXECUTION_OUTPUT = "execution_output"
REASON_DIRECT_UPLOAD = "direct_upload"


def output_marker(execution_id: str) -> dict[str, str]:
    """The user metadata an execution's output is written with."""
    return {MARKER_METADATA_KEY: execution_id}


def upload_marker(execution_id: str) -> dict[str, str]:
    """The user metadata a synchronous execution's direct upload is written with."""
    return {UPLOAD_METADATA_KEY: execution_id}


def marker_reason(where: str, metadata: Mapping[str, str]) -> IgnoredRecord | None:
    """Why an object with this user ``metadata`` must start nothing, or None."""
    if MARKER_METADATA_KEY in metadata:
        return IgnoredRecord(
            REASON_EXECUTION_OUTPUT,
            f"{where} was written by execution {metadata[MARKER_METADATA_KEY]}; "
            "outputs are never processed again",
        )
    if UPLOAD_METADATA_KEY in metadata:
        return IgnoredRecord(
            REASON_DIRECT_UPLOAD,
            f"{where} is the input of synchronous execution {metadata[UPLOAD_METADATA_KEY]}",
        )
    return None


def under_own_output(workflow: Workflow, bucket: str, key: str) -> IgnoredRecord | None:
    """Why ``s3://bucket/key`` must not start ``workflow``: it is under its output prefix."""
    prefix = workflow.output_key.literal_prefix
    if prefix and bucket == workflow.output.bucket and key.startswith(prefix):
        return IgnoredRecord(
            REASON_OWN_OUTPUT,
            f"s3://{bucket}/{key} is under workflow {workflow.name!r}'s output prefix {prefix!r}",
        )
    return None


def output_could_trigger_itself(workflow: Workflow) -> bool:
    """True if an output key of ``workflow`` could match its own trigger."""
    if workflow.output.bucket != workflow.trigger.bucket:
        return False
    out_prefix, in_prefix = workflow.output_key.literal_prefix, workflow.trigger.prefix
    if not (out_prefix.startswith(in_prefix) or in_prefix.startswith(out_prefix)):
        return False
    ending = _output_ending(workflow)
    if not workflow.trigger.suffix or ending is None:
        return True
    ending = ending.lower()
    return any(
        ending.endswith(suffix.lower()) or suffix.lower().endswith(ending)
        for suffix in workflow.trigger.suffix
    )


def _output_ending(workflow: Workflow) -> str | None:
    """The literal end every output key shares (e.g. ``.jpg``), or None if it varies."""
    template = workflow.output_key.template
    fmt = workflow.output_format
    if fmt and template.endswith("{ext}"):
        template = template.removesuffix("{ext}") + FORMAT_EXTENSIONS.get(fmt, fmt)
    tail = template.rpartition("}")[2]
    return tail or None
