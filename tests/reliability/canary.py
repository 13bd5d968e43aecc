"""A module that must never be imported by the service because of a request or an event.

Importing it records the fact in ``IMPORTED`` (and in the environment variable
``BUCKETSTREAM_CANARY_IMPORTED``); the security tests check that naming it in requests and
events leaves it unimported.
"""

from __future__ import annotations

import os

from steps import StepContext

IMPORTED = True
os.environ["BUCKETSTREAM_CANARY_IMPORTED"] = "1"


async def step(ctx: StepContext) -> None:
    """A step that would run if a request could name a module."""
    async for chunk in ctx.input:
        await ctx.write(chunk)
