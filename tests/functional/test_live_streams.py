"""Server-Sent Events of executions over a real HTTP server: progress, end, resume, filters."""

from __future__ import annotations

import signal
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.live import HOLDS, served
from tests.support.service import config, workflows
from tests.support.serving import ServeProcess
from tests.support.sse import events, records
from tests.support.waiting import wait_for
from trigger_service.api import live
from trigger_service.api.auth import RequestAuth

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MiB = 1024 * 1024
HOLD = "tests.support.live:hold"


def _held(bucket: str, name: str, *, delay: float = 0.0, **specs: Any) -> Any:
    flow = {
        "trigger": {"prefix": "incoming/"},
        "steps": [{HOLD: {"name": name, "delay": delay}}, {"gzip": {"level": 1}}],
        "output": {"bucket": bucket, "key": "archived/{key}.gz"},
    }
    return workflows(bucket, archive=flow, **specs)


def _hold() -> str:
    name = uuid.uuid4().hex
    HOLDS[name] = threading.Event()
    return name


def _start(client: httpx.Client, bucket: str, key: str, workflow: str = "archive") -> str:
    answer = client.post(f"/workflows/{workflow}/executions", json={"bucket": bucket, "key": key})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def test_progress_while_running_then_one_end(s3: S3Client, bucket: str, moto_endpoint: str) -> None:
    body = bytes(range(256)) * (12 * 1024)  # 3 MiB: 12 chunks of 256 KiB
    s3.put_object(Bucket=bucket, Key="incoming/big.bin", Body=body)
    gate = _hold()
    with served(config(moto_endpoint, _held(bucket, gate, delay=0.08))) as (url, _):
        client = httpx.Client(base_url=url, timeout=30)
        execution_id = _start(client, bucket, "incoming/big.bin")
        seen = []
        with client.stream("GET", f"/executions/{execution_id}/events") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for event in records(response):
                seen.append(event)
                if event.event == "progress" and event.record["status"] == "running":
                    HOLDS[gate].set()
        assert [e.event for e in seen[:-1]] == ["progress"] * (len(seen) - 1)
        assert seen[-1].event == "end" and seen[-1].record["status"] == "succeeded"
        ids = [int(e.id or 0) for e in seen]
        assert ids == sorted(set(ids)), "every event is a newer version"
        read_bytes = [
            step["bytes_out"]
            for e in seen
            for step in e.record["steps"]
            if step["name"] == "read" and e.event == "progress"
        ]
        assert len({b for b in read_bytes if 0 < b < len(body)}) >= 2, read_bytes
        writes = [s for s in seen[-1].record["steps"] if s["name"] == "write"]
        assert writes and writes[0]["bytes_in"] == seen[-1].record["output"]["size"] > 0
        assert seen[-1].record == client.get(f"/executions/{execution_id}").json()


def test_a_final_execution_ends_at_once_and_a_resumed_end_is_204(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="incoming/a.bin", Body=b"a" * 1000)
    gate = _hold()
    HOLDS[gate].set()
    with served(config(moto_endpoint, _held(bucket, gate))) as (url, _):
        client = httpx.Client(base_url=url, timeout=30)
        execution_id = _start(client, bucket, "incoming/a.bin")
        with client.stream("GET", f"/executions/{execution_id}/events") as response:
            last = list(records(response))[-1]
        assert last.event == "end"
        with client.stream("GET", f"/executions/{execution_id}/events") as response:
            again = list(records(response))
        assert [(e.event, e.id) for e in again] == [("end", last.id)]
        resumed = client.get(
            f"/executions/{execution_id}/events", headers={"Last-Event-ID": str(last.id)}
        )
        assert resumed.status_code == 204
        unknown = client.get("/executions/nope/events")
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "ExecutionNotFound"
        bad = client.get(f"/executions/{execution_id}/events", headers={"Last-Event-ID": "x"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidRequest"


def test_last_event_id_resumes_without_repeats(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="incoming/r.bin", Body=b"r" * 1000)
    gate = _hold()
    with served(config(moto_endpoint, _held(bucket, gate))) as (url, _):
        client = httpx.Client(base_url=url, timeout=30)
        execution_id = _start(client, bucket, "incoming/r.bin")
        with client.stream("GET", f"/executions/{execution_id}/events") as response:
            first = next(records(response))
        HOLDS[gate].set()
        headers = {"Last-Event-ID": str(first.id)}
        with client.stream(
            "GET", f"/executions/{execution_id}/events", headers=headers
        ) as response:
            rest = list(records(response))
        assert rest and all(int(e.id or 0) > int(first.id or 0) for e in rest)
        assert rest[-1].event == "end"


def test_stream_of_every_execution_filters_and_frees_leavers(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    for key in ("incoming/a.bin", "other/b.bin"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * 5000)
    gate = _hold()
    HOLDS[gate].set()
    flows = _held(
        bucket,
        gate,
        copy={
            "trigger": {"prefix": "other/"},
            "steps": ["passthrough"],
            "output": {"bucket": bucket, "key": "copied/{key}"},
        },
    )
    with served(config(moto_endpoint, flows)) as (url, app):
        client = httpx.Client(base_url=url, timeout=30)
        with client.stream("GET", "/executions/stream?workflow=copy&status=succeeded") as stream:
            assert stream.status_code == 200
            archive_id = _start(client, bucket, "incoming/a.bin")
            copy_id = _start(client, bucket, "other/b.bin", workflow="copy")
            first = next(records(stream))
        assert first.event == "progress"
        assert first.record["id"] == copy_id and first.record["status"] == "succeeded"
        assert archive_id != copy_id
        feed = app.state.feed
        wait_for(lambda: feed.subscribers == 0, within=20)
        with client.stream("GET", "/executions/stream", headers={"Last-Event-ID": "0"}) as stream:
            caught_up = set()
            for event in records(stream):
                caught_up.add(event.record["id"])
                if caught_up == {archive_id, copy_id}:
                    break
        bad = client.get("/executions/stream?status=sleeping")
        assert bad.status_code == 400


def test_idle_streams_get_keepalive_comments(
    bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "KEEPALIVE_SECONDS", 0.2)
    with served(config(moto_endpoint, _held(bucket, _hold()))) as (url, _):
        client = httpx.Client(base_url=url, timeout=30)
        with client.stream("GET", "/executions/stream") as stream:
            comments = (e for e in events(stream) if e.comment is not None)
            assert next(comments) is not None


def test_streams_and_page_need_the_token(bucket: str, moto_endpoint: str) -> None:
    cfg = config(
        moto_endpoint, _held(bucket, _hold()), auth=RequestAuth(token="s3cret", hmac_secret="k")
    )
    with served(cfg) as (url, _):
        client = httpx.Client(base_url=url, timeout=30)
        viewer_paths = (
            "/executions/stream",
            "/",
            "/executions",
            "/executions/x/events",
            "/executions/x/preview",
            "/openapi.json",
        )
        assert client.post("/executions/x/retry").status_code == 401
        for path in viewer_paths:
            refused = client.get(path)
            assert refused.status_code == 401, path
            if path == "/":  # the login form
                assert 'action="/login"' in refused.text
            else:
                assert refused.json()["error"]["code"] == "Unauthorized"
        assert client.get("/executions?token=s3cret").status_code == 401, "no token in URLs"
        assert client.get("/executions", headers={"X-Bucketstream-Token": "s3cret"}).is_success
        page = client.get("/", headers={"X-Bucketstream-Token": "s3cret"})
        assert page.status_code == 200
        cookie = page.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "s3cret" not in cookie
        login = client.post("/login", data={"token": "s3cret"})
        assert login.status_code == 303 and login.headers["location"] == "/"
        assert client.post("/login", data={"token": "wrong"}).status_code == 401
        session = login.cookies["bucketstream_session"]
        with_cookie = httpx.Client(
            base_url=url, timeout=30, cookies={"bucketstream_session": session}
        )
        assert with_cookie.get("/").status_code == 200
        with with_cookie.stream("GET", "/executions/stream") as stream:
            assert stream.status_code == 200
        forged = httpx.Client(base_url=url, timeout=30, cookies={"bucketstream_session": "s3cret"})
        assert forged.get("/executions").status_code == 401
        from trigger_service.api.auth import sign_request

        signed = sign_request("k", "GET", "/executions")
        assert client.get("/executions", headers=signed).is_success
        assert client.get("/static/app.js").status_code == 200


def test_a_second_worker_on_the_same_store_streams_the_first_ones_work(
    s3: S3Client, bucket: str, moto_endpoint: str, tmp_path: Path
) -> None:
    s3.put_object(Bucket=bucket, Key="incoming/w.bin", Body=b"w" * 5000)
    gate = _hold()
    store = tmp_path / "shared.db"
    flows = _held(bucket, gate)
    with (
        served(config(moto_endpoint, flows, store_path=store)) as (watcher_url, _),
        served(config(moto_endpoint, flows, store_path=store)) as (worker_url, _),
    ):
        worker = httpx.Client(base_url=worker_url, timeout=30)
        watcher = httpx.Client(base_url=watcher_url, timeout=30)
        execution_id = _start(worker, bucket, "incoming/w.bin")
        with watcher.stream("GET", f"/executions/{execution_id}/events") as response:
            seen = []
            for event in records(response):
                seen.append(event)
                HOLDS[gate].set()
        assert seen[-1].event == "end" and seen[-1].record["status"] == "succeeded"


def test_open_streams_end_cleanly_when_the_service_stops(
    bucket: str, moto_endpoint: str, tmp_path: Path
) -> None:
    config_file = tmp_path / "workflows.yaml"
    config_file.write_text(
        f"workflows:\n  a:\n    trigger: {{bucket: {bucket}, prefix: in/}}\n"
        f"    steps: [passthrough]\n    output: {{bucket: {bucket}, key: 'out/{{key}}'}}\n"
    )
    service = ServeProcess(
        config=config_file,
        endpoint=moto_endpoint,
        store=tmp_path / "executions.db",
        log_path=tmp_path / "serve.log",
    )
    try:
        service.start()
        assert service.process is not None
        with httpx.stream("GET", f"{service.url}/executions/stream", timeout=30) as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith("retry:")
            service.process.send_signal(signal.SIGINT)
            rest = list(lines)  # a clean end of the chunked body, not a broken connection
        assert all(not line.startswith("data:") for line in rest)
        assert service.process.wait(timeout=30) == 0
    finally:
        service.kill()
    assert "without completing response" not in service.log()
