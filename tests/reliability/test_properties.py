"""Properties over generated inputs: the webhook never fails with a 5xx, keys never escape.

* Any body posted to ``POST /events`` — arbitrary bytes, arbitrary JSON, real notifications
  for real objects with one member replaced by arbitrary JSON or removed — is answered with
  200, 202, 400 or 404 and a JSON document, never a server error.
* Any input key rendered through any output key template either is refused with
  ``UnsafeOutputKey`` or gives a key that stays under the template's literal prefix: no
  ``.``/``..`` segment, not absolute, no control or format characters, at most 1024 bytes.
"""

from __future__ import annotations

import copy
import json
import posixpath
import unicodedata
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage_adapter import MAX_KEY_BYTES
from tests.support.service import archive_workflows, config, running, s3_notification, unique
from tests.support.storage import keys_under, open_uploads
from trigger_service.errors import UnsafeOutputKey, WorkflowConfigError
from trigger_service.workflows.keys import KeyTemplate

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

JSON: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
ANSWERS = {200, 202, 400, 404}


class Webhook:
    """A running service (in a portal's event loop) and the bucket its samples live in."""

    def __init__(self, portal: BlockingPortal, client: httpx.AsyncClient, bucket: str) -> None:
        self.portal = portal
        self.client = client
        self.bucket = bucket
        self.samples: list[dict[str, Any]] = []

    def post(self, body: bytes) -> httpx.Response:
        """POST ``body`` to ``/events``."""
        return self.portal.call(
            lambda: self.client.post(
                "/events", content=body, headers={"content-type": "application/json"}
            )
        )


@pytest.fixture(scope="module")
def webhook(s3: S3Client, moto_endpoint: str) -> Iterator[Webhook]:
    bucket = unique("props")
    s3.create_bucket(Bucket=bucket)
    cfg = config(moto_endpoint, archive_workflows(bucket), queue_size=1000, concurrency=2)
    with (
        start_blocking_portal(backend="asyncio") as portal,
        portal.wrap_async_context_manager(running(cfg)) as (_, client),
    ):
        hook = Webhook(portal, client, bucket)
        for index in range(3):
            key = f"incoming/sample {index}+.bin"
            put = s3.put_object(Bucket=bucket, Key=key, Body=b"sample" * (index + 1))
            event = s3_notification(bucket, key, etag=put["ETag"].strip('"'), size=6)
            event["Records"][0]["s3"]["object"]["key"] = quote_plus(key, safe="/")
            hook.samples.append(event)
        yield hook
        health = portal.call(lambda: client.get("/healthz"))
        assert health.status_code == 200
    assert open_uploads(s3, bucket) == []
    outputs = keys_under(s3, bucket, "archived/")
    assert len(outputs) <= len(hook.samples)


def _check_answer(response: httpx.Response) -> None:
    assert response.status_code in ANSWERS, (response.status_code, response.text)
    payload = response.json()
    if response.status_code >= 400:
        assert set(payload) == {"error"}
        assert payload["error"]["code"] and payload["error"]["message"]
    else:
        assert {"executions", "duplicates", "ignored"} <= set(payload)


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_get_an_answer_never_a_server_error(webhook: Webhook, body: bytes) -> None:
    _check_answer(webhook.post(body))


@FUZZ
@given(JSON)
def test_any_json_gets_an_answer_never_a_server_error(webhook: Webhook, value: Any) -> None:
    _check_answer(webhook.post(json.dumps(value).encode()))


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [path]
    if isinstance(value, dict):
        for name, child in value.items():
            paths.extend(_paths(child, (*path, name)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths.extend(_paths(child, (*path, index)))
    return paths


@FUZZ
@given(st.data())
def test_real_notifications_with_a_member_mangled_get_an_answer(
    webhook: Webhook, data: st.DataObject
) -> None:
    body = copy.deepcopy(data.draw(st.sampled_from(webhook.samples)))
    path = data.draw(st.sampled_from(_paths(body)[1:]))
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    if isinstance(parent, dict) and data.draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(JSON)
    _check_answer(webhook.post(json.dumps(body).encode()))


TRICKY = st.sampled_from(
    ["..", ".", "/", "//", "a", "é", "\x00", "\n", "\u202e", "\ud7ff", "%2e", "+", " ", "~", "\\"]
)
KEYS = st.one_of(
    st.text(max_size=120),
    st.lists(TRICKY, max_size=20).map("".join),
    st.text(alphabet=st.sampled_from("a./"), max_size=30),
)
BLOCKS = st.sampled_from(
    [
        "out/",
        "processed",
        "/",
        "..",
        ".",
        "a",
        "-",
        "{key}",
        "{dir}",
        "{name}",
        "{stem}",
        "{ext}",
        "{execution_id}",
        "{",
        "}",
        "{nope}",
        "{key!r}",
        "\x00",
        "é",
    ]
)
TEMPLATES = st.lists(BLOCKS, min_size=1, max_size=6).map("".join)
FORMATS = st.sampled_from([None, "jpeg", "png", "webp", "gz"])


def _check_rendered(template: KeyTemplate, key: str, output_format: str | None) -> None:
    try:
        rendered = template.render(key, execution_id="0123abcd", output_format=output_format)
    except UnsafeOutputKey:
        return
    prefix = template.literal_prefix
    assert rendered, (template, key)
    assert rendered.startswith(prefix), (template, key, rendered)
    assert not rendered.startswith("/"), (template, key, rendered)
    assert all(segment not in {".", ".."} for segment in rendered.split("/")), rendered
    assert posixpath.normpath(rendered).startswith(prefix.rstrip("/")), rendered
    assert not any(unicodedata.category(c) in {"Cc", "Cf", "Cs"} for c in rendered), rendered
    assert len(rendered.encode("utf-8")) <= MAX_KEY_BYTES


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["processed/{key}", "out/{dir}/{stem}.{ext}", "{key}.gz", "{name}"]), KEYS)
def test_rendered_keys_never_escape_their_prefix(template: str, key: str) -> None:
    _check_rendered(KeyTemplate(template), key, None)


@settings(max_examples=500, deadline=None)
@given(TEMPLATES, KEYS, FORMATS)
def test_any_accepted_template_renders_only_safe_keys(
    template: str, key: str, output_format: str | None
) -> None:
    try:
        parsed = KeyTemplate(template)
    except WorkflowConfigError:
        return
    _check_rendered(parsed, key, output_format)
