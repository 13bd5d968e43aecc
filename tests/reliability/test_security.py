"""Security: authentication, limits, safe output keys, loopback binding, no leaked secrets.

Promise under test: no input can take the service down or make it act for someone it should
not. When a token or an HMAC secret is configured every endpoint but ``/healthz`` and
``/metrics`` requires it, compared in constant time; bodies are refused past their limit
before they are read; output keys stay under their prefix; ``serve`` binds 127.0.0.1 unless
told otherwise; credentials and secrets never appear in logs, answers or execution records;
and a request or an event can never name a Python module to import — only the workflow file
can.
"""

from __future__ import annotations

import ast
import gzip
import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psutil
import pytest
from click.testing import CliRunner

from tests.support.service import (
    archive_workflows,
    config,
    notify_queue,
    queue_size,
    running,
    s3_notification,
    unique,
    wait_final,
)
from tests.support.serving import REPOSITORY, ServeProcess
from tests.support.storage import keys_under, open_uploads
from tests.support.waiting import wait_for
from trigger_service.api import auth
from trigger_service.api.auth import RequestAuth, sign_request
from trigger_service.cli.commands import main
from trigger_service.cli.config import ServiceSettings
from trigger_service.cli.serve import serve
from trigger_service.errors import UnsafeOutputKey, WorkflowConfigError
from trigger_service.workflows.keys import KeyTemplate

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

anyio_mark = pytest.mark.anyio

TOKEN = "tok-bucketstream-FAKE-4471-do-not-log"
SECRET = "hmac-bucketstream-FAKE-9931-do-not-log"
ACCESS_KEY = "AKIABUCKETSTREAMFAKE7"
SECRET_KEY = "bucketstream/FAKE+secret/k9QzDoNotLog"
CANARY = "tests.reliability.canary"


def _event(s3: S3Client, bucket: str, key: str = "incoming/a.bin") -> bytes:
    etag = s3.put_object(Bucket=bucket, Key=key, Body=b"payload " * 64)["ETag"].strip('"')
    return json.dumps(s3_notification(bucket, key, etag=etag)).encode()


@anyio_mark
async def test_token_is_required_everywhere_but_health_and_metrics(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    body = _event(s3, bucket)
    cfg = config(moto_endpoint, archive_workflows(bucket), auth=RequestAuth(token=TOKEN))
    async with running(cfg) as (service, client):
        refused = [
            await client.post("/events", content=body),
            await client.post("/events", content=body, headers={auth.TOKEN_HEADER: "wrong"}),
            await client.post("/events", content=body, headers={auth.TOKEN_HEADER: TOKEN[:-1]}),
            await client.post("/events", content=body, headers={auth.TOKEN_HEADER: TOKEN + "x"}),
            await client.post("/events", content=body, headers={auth.TOKEN_HEADER: ""}),
            await client.post(
                "/events", content=body, headers=sign_request(TOKEN, "POST", "/events", body)
            ),
            await client.get("/executions"),
            await client.get("/executions/whatever"),
            await client.post(
                "/workflows/archive/executions", json={"bucket": bucket, "key": "incoming/a.bin"}
            ),
            await client.post(
                "/workflows/archive/sync-executions",
                json={"bucket": bucket, "key": "incoming/a.bin"},
            ),
            await client.post(
                "/workflows/archive/sync-executions",
                content=b"raw bytes",
                headers={"content-type": "application/octet-stream"},
            ),
        ]
        for response in refused:
            assert response.status_code == 401, (response.request.url, response.text)
            assert response.json()["error"]["code"] == "Unauthorized"
            assert TOKEN not in response.text
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200
        # Nothing was started, nothing was uploaded by the refused requests.
        assert (await service.store.list_executions()).executions == []
        assert keys_under(s3, bucket, "") == ["incoming/a.bin"]

        accepted = await client.post("/events", content=body, headers={auth.TOKEN_HEADER: TOKEN})
        assert accepted.status_code == 202
        record = await wait_final(
            client_with(client, TOKEN), accepted.json()["executions"][0]["id"]
        )
        assert record["status"] == "succeeded"


def client_with(client: httpx.AsyncClient, token: str) -> httpx.AsyncClient:
    """``client`` sending the token header from now on."""
    client.headers[auth.TOKEN_HEADER] = token
    return client


@anyio_mark
async def test_hmac_signature_must_match_the_exact_request_and_time(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    body = _event(s3, bucket)
    cfg = config(moto_endpoint, archive_workflows(bucket), auth=RequestAuth(hmac_secret=SECRET))
    good = sign_request(SECRET, "POST", "/events", body)
    now = int(good[auth.TIMESTAMP_HEADER])
    async with running(cfg) as (service, client):
        for index, headers in enumerate(
            [
                {},
                {auth.SIGNATURE_HEADER: good[auth.SIGNATURE_HEADER]},  # no timestamp
                {**good, auth.SIGNATURE_HEADER: ""},
                {**good, auth.SIGNATURE_HEADER: "v1="},
                {**good, auth.TIMESTAMP_HEADER: str(now + 1)},
                sign_request(SECRET, "POST", "/events", body + b" "),
                sign_request(SECRET + "x", "POST", "/events", body),
                sign_request(SECRET, "POST", "/events", b""),
                sign_request(SECRET, "POST", "/workflows/archive/executions", body),
                sign_request(SECRET, "PUT", "/events", body),
                sign_request(SECRET, "POST", "/events", body, timestamp=now - 330),
                sign_request(SECRET, "POST", "/events", body, timestamp=now + 330),
            ]
        ):
            response = await client.post("/events", content=body, headers=headers)
            assert response.status_code == 401, (index, headers)
            assert SECRET not in response.text
        tampered = body.replace(b"incoming/a.bin", b"incoming/b.bin")
        response = await client.post("/events", content=tampered, headers=good)
        assert response.status_code == 401
        assert (await service.store.list_executions()).executions == []
        response = await client.post("/events", content=body, headers=good)
        assert response.status_code == 202
        replay = await client.post("/events", content=body, headers=good)
        assert replay.status_code == 401, "an exact replay is refused"
        assert "already used" in replay.json()["error"]["message"]
        # A raw-bytes synchronous execution is streamed, never read whole: a signature cannot
        # cover it, so only the token could authenticate it.
        target = "/workflows/archive/sync-executions"
        raw = await client.post(
            target,
            content=b"raw",
            headers={
                "content-type": "application/octet-stream",
                **sign_request(SECRET, "POST", target, b"raw"),
            },
        )
        assert raw.status_code == 401


def test_secrets_are_compared_in_constant_time() -> None:
    source = textwrap.dedent(inspect.getsource(RequestAuth))
    tree = ast.parse(source)
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "compare_digest"
    ]
    assert len(calls) >= 4, "token, signature, session and login are compared in constant time"
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(
            isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn | ast.Is) for op in node.ops
        ):
            text = ast.unparse(node)
            assert not any(name in text for name in ("token", "secret", "signature", "given")), (
                f"a secret compared with a plain operator: {text}"
            )
    module = ast.parse(Path(auth.__file__).read_text())
    names = {n.attr for n in ast.walk(module) if isinstance(n, ast.Attribute)}
    assert "compare_digest" in names


@anyio_mark
async def test_bodies_are_refused_at_their_limit_before_being_read(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    cfg = config(moto_endpoint, archive_workflows(bucket), max_body_bytes=1024)
    async with running(cfg) as (_, client):
        too_big = b"{" + b" " * 2048 + b"}"
        for path in ("/events", "/workflows/archive/executions"):
            response = await client.post(
                path, content=too_big, headers={"content-type": "application/json"}
            )
            assert response.status_code == 413, path
            assert response.json()["error"]["code"] == "RequestTooLarge"
        # A declared length over the limit is refused before a byte of the body is read.
        read: list[int] = []

        async def endless() -> Any:
            for _ in range(10_000):
                read.append(1)
                yield b" " * 1024

        response = await client.post(
            "/events", content=endless(), headers={"content-length": str(10**12)}
        )
        assert response.status_code == 413
        assert len(read) <= 2
        assert (await client.get("/healthz")).status_code == 200


UNSAFE_TEMPLATES = [
    "/abs/{key}",
    "{key:>10}",
    "{key!r}",
    "{key.__class__}",
    "{key[0]}",
    "{nope}",
    "out/{",
    "{0}",
    "{}",
]


@pytest.mark.parametrize("template", UNSAFE_TEMPLATES)
def test_unsafe_key_templates_are_rejected_at_load(template: str) -> None:
    with pytest.raises(WorkflowConfigError):
        KeyTemplate(template)


UNSAFE_KEYS = [
    ("out/{key}", "../etc/passwd"),
    ("out/{key}", "a/../../b"),
    ("out/{name}", "dir/.."),
    ("out/{dir}/{name}", "../x"),
    ("{key}", "../x"),
    ("{key}", "/absolute"),
    ("{key}", "./x"),
    ("out/{key}", "a\x00b"),
    ("out/{key}", "a\nb"),
    ("out/{key}", "a\u202eb"),
    ("out/{key}", "a" * 1100),
    ("out/../{key}", "x"),
    ("{stem}", ""),
]


@pytest.mark.parametrize(("template", "key"), UNSAFE_KEYS)
def test_rendered_keys_that_would_escape_are_refused(template: str, key: str) -> None:
    with pytest.raises(UnsafeOutputKey):
        KeyTemplate(template).render(key, execution_id="e1", output_format=None)


def test_serve_binds_loopback_by_default(moto_endpoint: str, tmp_path: Path) -> None:
    help_text = CliRunner().invoke(main, ["serve", "--help"]).output
    assert "default: 127.0.0.1" in help_text
    # The flag only overrides the settings (file < environment < flags), whose default binds
    # loopback.
    (host,) = [p for p in serve.params if p.name == "host"]
    assert host.default is None
    assert ServiceSettings.model_fields["host"].default == "127.0.0.1"

    config_file = tmp_path / "workflows.yaml"
    config_file.write_text(
        "workflows:\n  a:\n    trigger: {bucket: some-bucket, prefix: in/}\n"
        "    steps: [passthrough]\n    output: {bucket: some-bucket, key: 'out/{key}'}\n"
    )
    service = ServeProcess(
        config=config_file,
        endpoint=moto_endpoint,
        store=tmp_path / "executions.db",
        log_path=tmp_path / "serve.log",
        host=None,
    )
    try:
        service.start()
        assert service.process is not None
        listening = [
            c.laddr
            for c in psutil.Process(service.process.pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
        assert listening, "serve listens on nothing"
        assert {address.ip for address in listening} == {"127.0.0.1"}, listening
    finally:
        service.kill()


def _leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, value in secrets.items() if value in text]


VERBOSITY = [
    pytest.param("-v", id="info"),
    pytest.param(
        "-vv",
        id="debug",
    ),
]


@pytest.mark.parametrize("verbosity", VERBOSITY)
def test_credentials_and_secrets_never_appear_in_logs_answers_or_records(
    s3: S3Client, sqs: SQSClient, moto_endpoint: str, tmp_path: Path, verbosity: str
) -> None:
    bucket = unique("secrets")
    s3.create_bucket(Bucket=bucket)
    queue = notify_queue(s3, sqs, bucket)
    config_file = tmp_path / "workflows.yaml"
    config_file.write_text(
        textwrap.dedent(
            f"""
            workflows:
              archive:
                trigger: {{bucket: {bucket}, prefix: "incoming/"}}
                steps: [{{gzip: {{level: 1}}}}]
                output: {{bucket: {bucket}, key: "archived/{{key}}.gz"}}
              unzip:
                trigger: {{bucket: {bucket}, prefix: "packed/"}}
                steps: [gunzip]
                output: {{bucket: {bucket}, key: "unpacked/{{key}}"}}
            """
        )
    )
    secrets = {
        "access key": ACCESS_KEY,
        "secret key": SECRET_KEY,
        "token": TOKEN,
        "hmac secret": SECRET,
    }
    service = ServeProcess(
        config=config_file,
        endpoint=moto_endpoint,
        store=tmp_path / "executions.db",
        log_path=tmp_path / "serve.log",
        queue_urls=[queue.url],
        global_options=[verbosity],
        env={
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "BUCKETSTREAM_TOKEN": TOKEN,
            "BUCKETSTREAM_HMAC_SECRET": SECRET,
        },
    )
    answers: list[str] = []
    try:
        service.start()
        s3.put_object(Bucket=bucket, Key="incoming/good.bin", Body=b"good " * 100)
        s3.put_object(Bucket=bucket, Key="packed/bad.gz", Body=b"not gzip at all")
        headers = {auth.TOKEN_HEADER: TOKEN}
        with httpx.Client(base_url=service.url, headers=headers, timeout=10) as client:

            def both_final() -> bool:
                page = client.get("/executions").json()["executions"]
                return len(page) == 2 and all(r["status"] in {"succeeded", "failed"} for r in page)

            wait_for(both_final, within=60)
            calls = [
                client.get("/executions"),
                client.post("/events", content=b"{not json"),
                client.post("/events", content=b"{}", headers={auth.TOKEN_HEADER: "wrong"}),
                client.post("/workflows/archive/executions", json={"bucket": bucket, "key": "x"}),
                client.post(
                    "/workflows/archive/executions",
                    json={"bucket": unique("missing"), "key": "incoming/x"},
                ),
                client.post(
                    "/workflows/unzip/sync-executions",
                    content=b"still not gzip",
                    headers={"content-type": "application/octet-stream"},
                ),
                client.get("/metrics"),
                client.get("/healthz"),
            ]
            for record in calls[0].json()["executions"]:
                calls.append(client.get(f"/executions/{record['id']}"))
            answers = [f"{r.status_code} {r.headers} {r.text}" for r in calls]
            records = {r["input"]["key"]: r for r in calls[0].json()["executions"]}
        assert records["incoming/good.bin"]["status"] == "succeeded"
        assert records["packed/bad.gz"]["error"]["code"] == "InvalidCompressedData"
        wait_for(lambda: queue_size(sqs, queue.url) == 0, within=60)
    finally:
        service.kill()
    log = service.log()
    assert "archive" in log and "Uvicorn running" in log  # the log was captured
    assert _leaks(log, secrets) == [], "secrets in the service log"
    for answer in answers:
        assert _leaks(answer, secrets) == [], answer[:300]
    rows = subprocess_store_dump(tmp_path / "executions.db")
    assert _leaks(rows, secrets) == [], "secrets in the execution store"
    assert (
        gzip.decompress(
            s3.get_object(Bucket=bucket, Key="archived/incoming/good.bin.gz")["Body"].read()
        )
        == b"good " * 100
    )
    assert open_uploads(s3, bucket) == []


def subprocess_store_dump(path: Path) -> str:
    """Every row of the execution store as text."""
    import sqlite3

    with sqlite3.connect(path) as db:
        return "\n".join(repr(row) for row in db.execute("SELECT * FROM executions"))


@anyio_mark
async def test_requests_and_events_cannot_name_a_module_to_import(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    assert CANARY not in sys.modules
    body = _event(s3, bucket)
    step = f"{CANARY}:step"
    record = json.loads(body)["Records"][0]
    async with running(config(moto_endpoint, archive_workflows(bucket))) as (_, client):
        answers = [
            await client.post(f"/workflows/{step}/executions", json={"bucket": bucket, "key": "k"}),
            await client.post(
                f"/workflows/{step}/sync-executions", json={"bucket": bucket, "key": "k"}
            ),
            await client.post(
                "/workflows/archive/executions",
                json={"bucket": bucket, "key": "incoming/a.bin", "steps": [step]},
            ),
            await client.post(
                "/workflows/archive/executions",
                json={"bucket": bucket, "key": "incoming/a.bin", "workflow": step},
            ),
            await client.post(
                f"/workflows/archive/executions?step={step}", json={"bucket": bucket}
            ),
            await client.post("/events", json={"Records": [{**record, "steps": [step]}]}),
            await client.post("/events", json={"Records": [{**record, "eventName": step}]}),
            await client.post(
                "/events", json=s3_notification(bucket, f"incoming/{step}", etag="0" * 32)
            ),
            await client.post("/events", json={"EventName": step, "Key": f"{bucket}/{step}"}),
            await client.post("/events", json={"specversion": "1.0", "type": step, "data": step}),
            await client.get(f"/executions/{step}"),
        ]
    assert all(response.status_code < 500 for response in answers), [a.text for a in answers]
    assert {a.status_code for a in answers[:2]} == {404}
    assert {a.status_code for a in answers[2:5]} == {400}
    assert CANARY not in sys.modules, "a request or an event made the service import a module"


def test_the_workflow_file_can_name_a_module() -> None:
    """The control of the test above: the same reference in a workflow file is imported."""
    step = f"{CANARY}:step"
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from trigger_service.workflows.model import parse_workflows; "
            "parse_workflows({'workflows': {'w': {'trigger': {'bucket': 'abc'}, "
            f"'steps': ['{step}'], 'output': {{'bucket': 'xyz', 'key': '{{key}}'}}}}}}}}); "
            f"print('{CANARY}' in sys.modules)",
        ],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "True", loaded.stderr


def test_only_the_workflow_loader_resolves_step_references() -> None:
    callers = []
    package = REPOSITORY / "trigger_service"
    paths = sorted(package.rglob("*.py"))
    assert len(paths) > 30, "the walk must reach every subpackage"
    for path in paths:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"resolve", "import_module"}
                and "registry" in ast.unparse(node.func.value)
            ):
                callers.append(path.relative_to(package).as_posix())
            if isinstance(node, ast.Name) and node.id in {"__import__", "eval", "exec"}:
                callers.append(f"{path.relative_to(package).as_posix()}:{node.id}")
    assert callers == ["workflows/model.py"]


def test_serve_refuses_a_network_bind_without_authentication(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("BUCKETSTREAM_TOKEN", "BUCKETSTREAM_HMAC_SECRET", "BUCKETSTREAM_HOST"):
        monkeypatch.delenv(name, raising=False)
    refused = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--port", "1"])
    assert refused.exit_code == 2, refused.output
    assert "refusing to listen on 0.0.0.0 without authentication" in refused.output
    assert "--insecure-no-auth" in refused.output
    assert _is_loopback("127.0.0.1") and _is_loopback("::1") and _is_loopback("localhost")
    assert not _is_loopback("0.0.0.0") and not _is_loopback("10.0.0.1")


def _is_loopback(host: str) -> bool:
    from trigger_service.cli.serve import is_loopback

    return is_loopback(host)
