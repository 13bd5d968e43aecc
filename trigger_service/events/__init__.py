"""Storage notifications of every shape parsed into :class:`ObjectEvent` values.

``parse`` recognises the envelope (Records[], MinIO, CloudEvents, SNS/SMN, SQS bodies);
``records`` reads one record; ``fields`` holds typed readers whose errors name the JSON path;
``types`` the parsed values and limits.
"""

from trigger_service.events.parse import parse_notification, parse_sqs_message
from trigger_service.events.types import IgnoredRecord, ObjectEvent, ParsedNotification

__all__ = [
    "IgnoredRecord",
    "ObjectEvent",
    "ParsedNotification",
    "parse_notification",
    "parse_sqs_message",
]
