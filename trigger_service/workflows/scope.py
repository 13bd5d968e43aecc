"""What an API call may make a workflow read: the objects its trigger accepts, or more if asked.

An event can only name what the bucket notification sends, but ``POST
/workflows/{name}/executions`` and a synchronous execution name any ``{"bucket","key"}``:
without a check, the service's storage credentials would read any object they reach for
whoever can call the API. So an API start reads only a key that the workflow's trigger
accepts (its bucket, prefix and suffix; the loop guard is checked next to it), unless the
workflow widens it in its file:

.. code-block:: yaml

    api:
      any_key: true            # any key of any bucket the credentials reach
      buckets: [archive-2024]  # or: any key of these buckets as well

A refused start raises :class:`~trigger_service.errors.OutOfScope` (403) naming the trigger's
bucket, prefix and suffix, before any request reaches the storage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field

from trigger_service.errors import OutOfScope

if TYPE_CHECKING:
    from trigger_service.workflows.model import TriggerConfig, Workflow


class ApiAccess(BaseModel):
    """The ``api:`` section of a workflow: what API calls may read beyond the trigger."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Any bucket and key the service's credentials can read.
    any_key: bool = False
    #: Buckets whose every key may be read as well (besides the trigger's accepted keys).
    buckets: tuple[Annotated[str, Field(min_length=3, max_length=255)], ...] = Field(
        default=(), max_length=100
    )


def describe_trigger(trigger: TriggerConfig) -> str:
    """``bucket 'b', prefix 'p/', suffix ['.jpg']``: what a trigger accepts, for messages."""
    text = f"bucket {trigger.bucket!r}"
    if trigger.prefix:
        text += f", prefix {trigger.prefix!r}"
    if trigger.suffix:
        text += f", suffix {list(trigger.suffix)!r}"
    return text


def api_may_read(workflow: Workflow, bucket: str, key: str) -> bool:
    """Whether an API call may run ``workflow`` on ``s3://bucket/key``."""
    access = workflow.api
    if access.any_key or bucket in access.buckets:
        return True
    return bucket == workflow.trigger.bucket and workflow.trigger.accepts_key(key)


def check_api_scope(workflow: Workflow, bucket: str, key: str) -> None:
    """Raise :class:`OutOfScope` unless an API call may run ``workflow`` on the object."""
    if api_may_read(workflow, bucket, key):
        return
    extra = (
        f" or a bucket of api.buckets {list(workflow.api.buckets)!r}"
        if workflow.api.buckets
        else ""
    )
    raise OutOfScope(
        f"s3://{bucket}/{key[:200]} is not an object workflow {workflow.name!r} watches: an API "
        f"call reads only keys its trigger accepts ({describe_trigger(workflow.trigger)}){extra}; "
        "to read other objects, set api: {any_key: true} or api: {buckets: [...]} in the "
        "workflow file"
    )
