"""A workflow's ``limits:``: bounds on its input checked before work starts.

.. code-block:: yaml

    limits: {max_input_bytes: 10737418240}   # 10 GiB; S3's 5 TiB object limit by default

An input larger than ``max_input_bytes`` (its size from the event, or the HEAD) fails the
execution with ``InputTooLarge`` before any GET of its body.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: S3's largest object: the default bound accepts what S3 can hold.
MAX_OBJECT_BYTES = 5 * 1024**4


class LimitsConfig(BaseModel):
    """``limits:`` of one workflow."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_input_bytes: int = Field(
        default=MAX_OBJECT_BYTES, ge=0, le=MAX_OBJECT_BYTES, description="largest input object"
    )


#: The limits of a workflow that sets none.
DEFAULT_LIMITS = LimitsConfig()
