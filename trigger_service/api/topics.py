"""``POST /events/sns/{secret}`` and ``POST /events/smn/{secret}``: topic deliveries, verified.

SNS and SMN cannot send our token header, so they deliver to a path holding a secret of the
subscription (:attr:`~trigger_service.topics.TopicDeliveries.path_secrets`, compared in
constant time; a wrong one answers the same ``404`` as a route that does not exist). The body
is verified (:mod:`trigger_service.topics.deliveries`), then:

* a Notification starts executions like ``POST /events`` (``202``, or ``200`` if nothing
  started), with ``source`` ``sns`` or ``smn`` in the records;
* a SubscriptionConfirmation is confirmed with a GET of its ``SubscribeURL`` → ``200
  {"confirmed": {"topic", "subscription"}}``;
* an UnsubscribeConfirmation is logged and ignored → ``200 {"ignored": [...]}``.

A refused message answers ``403`` (``InvalidSignature``, ``TopicNotAllowed``), ``400``
(``MalformedEvent``) or ``503`` (``CertificateUnavailable``, retried by the sender) and is
logged without the secret. :class:`SecretPathFilter` takes the secret out of access lines.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from trigger_service.api.access import service_of
from trigger_service.api.bodies import read_body
from trigger_service.errors import MalformedEvent, TriggerServiceError
from trigger_service.events.parse import parse_notification
from trigger_service.topics import Provider, TopicDeliveries
from trigger_service.topics.providers import NOTIFICATION, SUBSCRIPTION_CONFIRMATION

logger = logging.getLogger(__name__)

#: The topic header SNS adds to every delivery; when present it must name the body's topic.
SNS_TOPIC_HEADER = "x-amz-sns-topic-arn"
#: A delivery path with its secret, as it appears in an access line.
SECRET_PATH = re.compile(r"(/events/(?:sns|smn)/)[^\s/?\"]+")
REDACTED = "[secret]"


def redact(text: str) -> str:
    """``text`` with the secret of every delivery path replaced by :data:`REDACTED`."""
    return SECRET_PATH.sub(rf"\g<1>{REDACTED}", text)


class SecretPathFilter(logging.Filter):
    """Rewrites log records so that no delivery path secret is written (uvicorn's access
    lines carry the path as an argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "/events/" in record.msg:
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact(arg) if isinstance(arg, str) and "/events/" in arg else arg
                for arg in record.args
            )
        return True


#: The filter installed on uvicorn's access logger by the app's lifespan.
SECRET_PATH_FILTER = SecretPathFilter()
ACCESS_LOGGER = "uvicorn.access"


def install_secret_filter() -> None:
    """Put :data:`SECRET_PATH_FILTER` on uvicorn's access logger (once)."""
    logging.getLogger(ACCESS_LOGGER).addFilter(SECRET_PATH_FILTER)


def _document(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise MalformedEvent("the body is not a JSON document") from None
    if not isinstance(document, dict):
        raise MalformedEvent("the body is not a JSON object")
    return document


async def _deliver(request: Request, provider_name: str) -> Response:
    service = service_of(request)
    deliveries: TopicDeliveries = service.config.topics
    provider = deliveries.providers[provider_name]
    if not deliveries.accepts_secret(request.path_params["secret"]):
        raise HTTPException(status_code=404)
    try:
        return await _verified(request, deliveries, provider)
    except TriggerServiceError as exc:
        logger.warning("%s delivery refused: %s: %s", provider.name, exc.code, exc.message)
        raise


async def _verified(request: Request, deliveries: TopicDeliveries, provider: Provider) -> Response:
    service = service_of(request)
    document = _document(await read_body(request, service.config.max_body_bytes))
    header = request.headers.get(SNS_TOPIC_HEADER)
    if header is not None and header != document.get(provider.topic_member):
        raise MalformedEvent(f"the {SNS_TOPIC_HEADER} header does not name the body's topic")
    message = await deliveries.verify(provider, document)
    if message.kind == NOTIFICATION:
        accepted = await service.intake.accept(parse_notification(document), source=provider.name)
        content = {
            "message_id": message.message_id,
            "executions": [record.public() for record in accepted.executions],
            "duplicates": list(accepted.duplicates),
            "ignored": [{"reason": i.reason, "detail": i.detail} for i in accepted.ignored],
        }
        return JSONResponse(content, status_code=202 if accepted.executions else 200)
    if message.kind == SUBSCRIPTION_CONFIRMATION:
        confirmed = await deliveries.confirm(provider, message)
        return JSONResponse(
            {"confirmed": {"topic": confirmed.topic, "subscription": confirmed.subscription}}
        )
    logger.warning("%s: %s for topic %s; nothing to do", provider.name, message.kind, message.topic)
    detail = f"{message.kind} for topic {message.topic}"
    return JSONResponse({"ignored": [{"reason": "unsubscribed", "detail": detail}]})


async def sns_delivery(request: Request) -> Response:
    """An Amazon SNS HTTP(S) delivery."""
    return await _deliver(request, "sns")


async def smn_delivery(request: Request) -> Response:
    """A Huawei Cloud SMN HTTP(S) delivery."""
    return await _deliver(request, "smn")
