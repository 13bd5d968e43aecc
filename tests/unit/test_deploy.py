"""The Kubernetes example under deploy/ stays valid: YAML that names real CLI options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from trigger_service.cli.serve import serve

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes" / "bucketstream.yaml"


def _documents() -> dict[str, dict[str, Any]]:
    documents = [d for d in yaml.safe_load_all(DEPLOY.read_text()) if d]
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in documents}


def _serve_options() -> dict[str, click.Option]:
    return {
        name: param
        for param in serve.params
        if isinstance(param, click.Option)
        for name in (*param.opts, *param.secondary_opts)
    }


def _container() -> dict[str, Any]:
    deployment = _documents()["Deployment/bucketstream"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def test_the_example_has_a_deployment_and_a_keda_scaler_on_the_queue() -> None:
    documents = _documents()
    scaler = documents["ScaledObject/bucketstream"]
    assert scaler["apiVersion"].startswith("keda.sh/")
    assert scaler["spec"]["scaleTargetRef"]["name"] == "bucketstream"
    (trigger,) = scaler["spec"]["triggers"]
    assert trigger["type"] == "aws-sqs-queue"
    args = _container()["args"]
    assert f"--queue-url={trigger['metadata']['queueURL']}" in args
    auth = trigger["authenticationRef"]["name"]
    assert f"TriggerAuthentication/{auth}" in documents


def test_every_argument_is_an_option_of_serve() -> None:
    args = _container()["args"]
    assert args[0] == "serve"
    options = _serve_options()
    for arg in args[1:]:
        name, _, value = arg.partition("=")
        assert name in options, f"{arg!r} is not an option of bucketstream serve"
        option = options[name]
        if not option.is_flag:
            option.type.convert(value, option, None)  # raises on a value serve would refuse


@pytest.mark.parametrize("variable", ["BUCKETSTREAM_STORE", "BUCKETSTREAM_WORKER_ID"])
def test_environment_variables_are_read_by_serve(variable: str) -> None:
    from trigger_service.cli.config import ENV_PREFIX, ServiceSettings

    names = {entry["name"] for entry in _container()["env"]}
    assert variable in names
    # serve reads BUCKETSTREAM_<FIELD> through its settings model (flags override it)
    assert variable.removeprefix(ENV_PREFIX).lower() in ServiceSettings.model_fields


def test_the_workflow_file_of_the_config_map_is_valid() -> None:
    from trigger_service.workflows.model import parse_workflows

    config_map = _documents()["ConfigMap/bucketstream-workflows"]
    workflows = parse_workflows(yaml.safe_load(config_map["data"]["workflows.yaml"]))
    assert [w.name for w in workflows] == ["photos"]


def test_the_network_bind_carries_a_token_from_a_secret_and_allowed_hosts() -> None:
    container = _container()
    env = {entry["name"]: entry for entry in container["env"]}
    token = env["BUCKETSTREAM_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert token["name"] == "bucketstream" and token["key"]
    assert "value" not in env["BUCKETSTREAM_TOKEN"]
    assert "--host=0.0.0.0" in container["args"]
    (hosts,) = [a for a in container["args"] if a.startswith("--allowed-hosts=")]
    assert "localhost" in hosts.partition("=")[2].split(",")
    probe = container["readinessProbe"]["httpGet"]
    assert {"name": "Host", "value": "localhost"} in probe["httpHeaders"]


def test_uvicorn_access_lines_lose_their_query_string() -> None:
    import logging

    from trigger_service.cli.logs import StripQuery

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/executions?token=secret&x=1", "1.1", 200),
        None,
    )
    assert StripQuery().filter(record)
    assert record.getMessage() == '127.0.0.1:5 - "GET /executions HTTP/1.1" 200'


def test_the_grace_period_covers_the_pre_stop_and_the_drain() -> None:
    spec = _documents()["Deployment/bucketstream"]["spec"]["template"]["spec"]
    container = _container()
    (drain,) = [a for a in container["args"] if a.startswith("--drain-seconds=")]
    drain_seconds = float(drain.partition("=")[2])
    pre_stop = float(container["lifecycle"]["preStop"]["sleep"]["seconds"])
    grace = spec["terminationGracePeriodSeconds"]
    # preStop runs first, then SIGTERM starts the drain; a few seconds remain to hand back
    assert pre_stop + drain_seconds < grace <= pre_stop + drain_seconds + 10
