"""Loops: a workflow's outputs never start it (or any workflow) again.

Promise under test: no input can take the service down — including its own outputs, which
could otherwise trigger executions forever. Self-triggering workflow files are rejected at
load; at run time outputs land in watched buckets, their notifications arrive over SQS, and
the number of executions stays put for a whole polling period.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.service import config, queue_size, running, unique
from tests.support.storage import keys_under
from tests.support.waiting import eventually
from trigger_service.cli.embedded import queue_for_buckets
from trigger_service.errors import UnsafeOutputKey, WorkflowConfigError
from trigger_service.events.parse import ObjectEvent
from trigger_service.intake.routing import route_event
from trigger_service.intake.sqs import SqsSettings
from trigger_service.workflows.loops import output_could_trigger_itself
from trigger_service.workflows.model import Workflows, parse_workflows

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

#: How long the service keeps polling once nothing is left that could start an execution:
#: the proof (every notification deleted, none in flight, the executor idle) needs no
#: watch; the soak variant watches for a minute on top of it.
WATCH_SECONDS = 0.0
SOAK_WATCH_SECONDS = 60.0


def one(spec: dict[str, Any]) -> Workflows:
    """A file with one workflow, ``w``, on bucket ``bucket-a`` unless ``spec`` says otherwise."""
    spec = {"steps": [{"gzip": {"level": 1}}], **spec}
    spec["trigger"] = {"bucket": "bucket-a", **spec.get("trigger", {})}
    spec["output"] = {"bucket": "bucket-a", **spec.get("output", {})}
    return parse_workflows({"workflows": {"w": spec}})


SELF_TRIGGERING = [
    pytest.param({"trigger": {}, "output": {"key": "processed/{key}"}}, id="no-trigger-prefix"),
    pytest.param(
        {"trigger": {"prefix": "in/"}, "output": {"key": "in/out/{key}"}}, id="output-inside"
    ),
    pytest.param({"trigger": {"prefix": "in/"}, "output": {"key": "{key}.gz"}}, id="no-prefix"),
    pytest.param({"trigger": {"prefix": "in/"}, "output": {"key": "{dir}/z/{name}"}}, id="dir"),
    pytest.param({"trigger": {"prefix": "in"}, "output": {"key": "inbox/{name}"}}, id="nested"),
    pytest.param(
        {"trigger": {"prefix": "in/", "suffix": [".gz"]}, "output": {"key": "in/{name}.GZ"}},
        id="suffix-case",
    ),
    pytest.param(
        {"trigger": {"suffix": [".jpg"]}, "output": {"key": "thumbs/{stem}.{ext}"}},
        id="keeps-the-extension",
    ),
    pytest.param(
        {
            "trigger": {"suffix": [".jpg"]},
            "steps": [{"compress": {"format": "jpeg"}}],
            "output": {"key": "small/{stem}.{ext}"},
        },
        id="format-matches-suffix",
    ),
]


@pytest.mark.parametrize("spec", SELF_TRIGGERING)
def test_a_workflow_that_could_trigger_itself_is_rejected_at_load(spec: dict[str, Any]) -> None:
    with pytest.raises(WorkflowConfigError) as caught:
        one(spec)
    assert "workflows.w.output" in caught.value.message
    assert "could trigger this workflow again" in caught.value.message


SAFE = [
    pytest.param({"trigger": {"prefix": "in/"}, "output": {"key": "out/{key}"}}, id="prefixes"),
    pytest.param(
        {"trigger": {}, "output": {"bucket": "bucket-b", "key": "{key}"}}, id="other-bucket"
    ),
    pytest.param(
        {
            "trigger": {"suffix": [".jpg", ".jpeg"]},
            "steps": [{"compress": {"format": "webp"}}],
            "output": {"key": "thumbs/{stem}.{ext}"},
        },
        id="suffix-excludes-outputs",
    ),
]


@pytest.mark.parametrize("spec", SAFE)
def test_a_workflow_whose_outputs_are_excluded_loads(spec: dict[str, Any]) -> None:
    assert output_could_trigger_itself(one(spec).get("w")) is False


SEGMENT = st.sampled_from(["in", "out", "a", "in/", "out/", "x.", ".gz", ".jpg", "/", "IN"])
VARIABLE = st.sampled_from(["{key}", "{dir}", "{name}", "{stem}", "{ext}", "{execution_id}"])
TEMPLATES = st.lists(st.one_of(SEGMENT, VARIABLE), min_size=1, max_size=5).map("".join)
PREFIXES = st.lists(SEGMENT, max_size=3).map("".join)
SUFFIXES = st.lists(st.sampled_from([".gz", ".jpg", ".GZ", "z", ".webp", "x"]), max_size=2)
KEY_PARTS = st.sampled_from(["in/", "out/", "a", "b.jpg", "c.gz", "x.", "IN/", "d/", "e.webp"])
INPUT_KEYS = st.lists(KEY_PARTS, min_size=1, max_size=5).map("".join)
STEPS = st.sampled_from(
    [[{"gzip": {"level": 1}}], [{"compress": {"format": "webp"}}], [{"compress": {}}]]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEMPLATES, PREFIXES, SUFFIXES, STEPS, st.lists(INPUT_KEYS, min_size=1, max_size=5))
def test_no_accepted_workflow_is_triggered_by_its_own_outputs(
    template: str, prefix: str, suffix: list[str], steps: list[Any], inputs: list[str]
) -> None:
    spec = {"trigger": {"prefix": prefix, "suffix": suffix}, "steps": steps}
    spec["output"] = {"key": template}
    try:
        workflow = one(spec).get("w")
    except WorkflowConfigError:
        return  # rejected at load: the promise is kept
    for key in inputs:
        if not workflow.trigger.accepts_key(key):
            continue
        try:
            output = workflow.output_key.render(
                key, execution_id="0123abcd", output_format=workflow.output_format
            )
        except UnsafeOutputKey:
            continue
        event = ObjectEvent(
            bucket="bucket-a",
            key=output,
            size=1,
            etag="e",
            version_id=None,
            event_name="ObjectCreated:Put",
            sequencer=None,
            event_time=None,
            source="aws",
        )
        routed = route_event([workflow], event)
        assert routed.workflows == (), (template, prefix, suffix, key, output)


def loop_flows(first: str, second: str) -> Workflows:
    """Three workflows whose outputs all land where a trigger watches.

    ``self`` writes into its own bucket (outside its trigger prefix); ``ping`` writes into
    ``second/incoming/``, watched by ``pong``, which writes back into ``first/incoming/``,
    watched by ``self`` and ``ping``: without the output marker this would never stop.
    """
    return parse_workflows(
        {
            "workflows": {
                "self": {
                    "trigger": {"bucket": first, "prefix": "incoming/"},
                    "steps": [{"gzip": {"level": 1}}],
                    "output": {"bucket": first, "key": "processed/{key}.gz"},
                },
                "ping": {
                    "trigger": {"bucket": first, "prefix": "incoming/"},
                    "steps": ["passthrough"],
                    "output": {"bucket": second, "key": "incoming/from-first/{name}"},
                },
                "pong": {
                    "trigger": {"bucket": second, "prefix": "incoming/"},
                    "steps": ["passthrough"],
                    "output": {"bucket": first, "key": "incoming/from-second/{name}"},
                },
            }
        }
    )


async def _outputs_never_trigger_again(
    s3: S3Client, sqs: SQSClient, moto_endpoint: str, watch: float
) -> None:
    first, second = unique("loop-a"), unique("loop-b")
    for name in (first, second):
        s3.create_bucket(Bucket=name)
    queue_url, _ = queue_for_buckets(s3, sqs, unique("events"), [first, second])
    objects = 5
    cfg = config(
        moto_endpoint,
        loop_flows(first, second),
        queue_urls=(queue_url,),
        queue_size=64,
        sqs=SqsSettings(wait_seconds=1, visibility_timeout=10, redelivery_delay=1),
    )
    async with running(cfg) as (service, client):
        for index in range(objects):
            s3.put_object(Bucket=first, Key=f"incoming/{index}.bin", Body=os.urandom(2048))

        async def executions() -> list[dict[str, Any]]:
            response = await client.get("/executions", params={"limit": "1000"})
            found: list[dict[str, Any]] = response.json()["executions"]
            return found

        async def settled() -> bool:
            records = await executions()
            finished = all(r["status"] == "succeeded" for r in records)
            return len(records) == 2 * objects and finished and queue_size(sqs, queue_url) == 0

        await eventually(settled, within=60, interval=0.2)

        async def quiescent() -> bool:
            # Nothing is left that could start an execution: every notification (an input's
            # and each output's: 3 per object) was received and deleted, none is visible or
            # in flight, and the executor holds nothing. Anything started by an output would
            # have been started by then.
            text = (await client.get("/metrics")).text
            idle = service.executor.queued == 0 and service.executor.running == 0
            return idle and queue_size(sqs, queue_url) == 0 and _deleted(text) >= 3 * objects

        await eventually(quiescent, within=60, interval=0.2)
        records = await executions()
        assert len(records) == 2 * objects, Counter(r["workflow"] for r in records)
        # Keep polling: every output's notification has arrived and been acknowledged, and
        # nothing more may start however long the service keeps listening.
        with anyio.fail_after(watch + 30):
            for _ in range(int(watch)):
                await anyio.sleep(1)
                records = await executions()
                assert len(records) == 2 * objects, Counter(r["workflow"] for r in records)
                assert service.executor.queued == 0
        metrics = (await client.get("/metrics")).text
    assert Counter(r["workflow"] for r in records) == {"self": objects, "ping": objects}
    assert len(keys_under(s3, first, "processed/")) == objects
    assert len(keys_under(s3, second, "incoming/from-first/")) == objects
    assert keys_under(s3, first, "incoming/from-second/") == []
    assert queue_size(sqs, queue_url) == 0
    # Every notification (inputs and outputs alike) was received and deleted.
    assert _deleted(metrics) >= 3 * objects


def _deleted(metrics: str) -> float:
    """The count of SQS messages the service deleted, from its /metrics text (0 if none)."""
    for line in metrics.splitlines():
        if 'sqs_messages_total{outcome="deleted"}' in line:
            return float(line.split()[-1])
    return 0.0


@pytest.mark.anyio
async def test_outputs_landing_on_watched_prefixes_never_start_anything(
    s3: S3Client, sqs: SQSClient, moto_endpoint: str
) -> None:
    await _outputs_never_trigger_again(s3, sqs, moto_endpoint, WATCH_SECONDS)


@pytest.mark.soak
@pytest.mark.anyio
async def test_outputs_never_start_anything_over_a_minute_of_polling(
    s3: S3Client, sqs: SQSClient, moto_endpoint: str
) -> None:
    await _outputs_never_trigger_again(s3, sqs, moto_endpoint, SOAK_WATCH_SECONDS)
