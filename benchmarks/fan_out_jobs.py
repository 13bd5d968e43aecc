"""Measured jobs of the fan-out scenario: one execution per process (see :mod:`benchmarks.job`).

``renditions`` runs either the three-output workflow (``output: "all"``) or a single-output
workflow making one of the renditions (``output: NAME``), through :class:`ExecutionEngine`
against the moto server, and reports its time, the bytes and GETs it read and its decodes.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio

from benchmarks.jobs import OperationTimer
from benchmarks.moto_server import READ_TIMEOUT, REGION

#: The renditions of the issue's example (AVIF becomes WebP: Pillow has no AVIF writer here).
RENDITIONS: list[dict[str, Any]] = [
    {
        "name": "thumb",
        "steps": [{"compress": {"max_width": 320, "max_height": 320, "format": "webp",
                                "quality": 70}}],
        "key": "thumbs/{stem}-320.webp",
    },
    {
        "name": "page",
        "steps": [
            {"compress": {"max_width": 1024, "max_height": 1024, "format": "jpeg",
                          "quality": 82}},
            {"watermark": {"text": "© Example", "position": "bottom-right"}},
        ],
        "key": "page/{stem}.jpg",
    },
    {
        "name": "retina",
        "steps": [{"compress": {"max_width": 2048, "max_height": 2048, "format": "webp",
                                "quality": 80}}],
        "key": "retina/{stem}-2048.webp",
    },
]  # fmt: skip


def workflow_document(bucket: str, output: str) -> dict[str, Any]:
    """The fan-out workflow (``output == "all"``) or the single-output one for ``output``."""
    spec: dict[str, Any] = {
        "trigger": {"bucket": bucket, "prefix": "in/"},
        "timeout_seconds": 3600,
    }
    if output == "all":
        spec["outputs"] = RENDITIONS
    else:
        (branch,) = [r for r in RENDITIONS if r["name"] == output]
        spec["steps"] = branch["steps"]
        spec["output"] = {"bucket": bucket, "key": branch["key"]}
    return {"workflows": {"renditions": spec}}


def renditions(params: dict[str, Any]) -> dict[str, Any]:
    """One execution of ``params["output"]`` on ``s3://bucket/key``."""
    from storage_adapter import StorageIO, StorageSettings
    from trigger_service.execution.engine import ExecutionEngine
    from trigger_service.records import ExecutionRecord, ExecutionStatus, ObjectRef
    from trigger_service.workflows.model import parse_workflows

    logging.basicConfig(level=logging.ERROR)
    io = StorageIO.from_settings(
        StorageSettings(endpoint_url=params["endpoint"], region=REGION, read_timeout=READ_TIMEOUT)
    )
    timer = OperationTimer().attach(io.client)
    document = workflow_document(params["bucket"], params["output"])
    workflow = parse_workflows(document).get("renditions")
    record = ExecutionRecord(
        workflow=workflow.name, input=ObjectRef(bucket=params["bucket"], key=params["key"])
    )
    began = time.perf_counter()
    record = anyio.run(ExecutionEngine(io).execute, workflow, record)
    elapsed = time.perf_counter() - began
    if record.status is not ExecutionStatus.SUCCEEDED:
        raise RuntimeError(f"execution failed: {record.error}")
    steps = {step.name: step for step in record.steps}
    outputs: list[ObjectRef] = [
        *(record.outputs or []),
        *([record.output] if record.output else []),
    ]
    return {
        "seconds": elapsed,
        "bytes_read": steps["read"].bytes_out,
        "get_requests": timer.as_dict().get("GetObject", {}).get("calls", 0),
        "decodes": sum(1 for name in steps if name.rpartition(".")[2] == "decode"),
        "decode_draft_scale": next(
            (s.details.get("decode_draft_scale") for n, s in steps.items() if n.endswith("decode")),
            None,
        ),
        "output_bytes": sum(o.size or 0 for o in outputs),
    }
