"""The loop guard, in one place: no output ever starts a workflow again.

Three layers, each cheap and each enough on its own for the case it covers:

1. **At load** (:func:`output_could_trigger_itself`): a workflow whose output keys (of any of
   its outputs, for a fan-out) could match its own trigger is rejected unless an output
   prefix or suffix excludes them.
2. **On routing** (:func:`under_own_output`): a key under one of the workflow's own output
   prefixes in that output's bucket never starts it, before any request is made.
3. **On the object** (:func:`marker_reason`): outputs carry ``x-amz-meta-bucketstream-execution``
   (:func:`output_marker`) and direct uploads of synchronous executions
   ``x-amz-meta-bucketstream-upload`` (:func:`upload_marker`); the HEAD before an execution and
   the engine's own pinned HEAD both refuse them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trigger_service.events.types import IgnoredRecord

if TYPE_CHECKING:
    from collections.abc import Mapping

    from trigger_service.workflows.branches import Branch
    from trigger_service.workflows.model import TriggerConfig, Workflow

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
    """Why ``s3://bucket/key`` must not start ``workflow``: it is under an output prefix."""
    for branch in workflow.branches:
        prefix = branch.output_key.literal_prefix
        if prefix and bucket == branch.output.bucket and key.startswith(prefix):
            return IgnoredRecord(
                REASON_OWN_OUTPUT,
                f"s3://{bucket}/{key} is under workflow {workflow.name!r}'s output prefix "
                f"{prefix!r}",
            )
    return None


def output_could_trigger_itself(workflow: Workflow) -> bool:
    """True if an output key of any of ``workflow``'s outputs could match its own trigger."""
    return any(branch_could_trigger(workflow.trigger, branch) for branch in workflow.branches)


def branch_could_trigger(trigger: TriggerConfig, branch: Branch) -> bool:
    """True if an output key of ``branch`` could match ``trigger``."""
    if branch.output.bucket != trigger.bucket:
        return False
    out_prefix, in_prefix = branch.output_key.literal_prefix, trigger.prefix
    if not (out_prefix.startswith(in_prefix) or in_prefix.startswith(out_prefix)):
        return False
    ending = branch.resolved_template().rpartition("}")[2] or None
    if not trigger.suffix or ending is None:
        return True
    ending = ending.lower()
    return any(
        ending.endswith(suffix.lower()) or suffix.lower().endswith(ending)
        for suffix in trigger.suffix
    )
