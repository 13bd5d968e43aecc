"""The service's settings in one place: a file section, ``BUCKETSTREAM_*`` variables, flags.

Precedence, lowest first: defaults; the ``service:`` section of the workflow file (or the
file given with ``--settings``, a YAML mapping or one with a ``service:`` key); environment
variables ``BUCKETSTREAM_<FIELD>`` (e.g. ``BUCKETSTREAM_PORT``; lists comma-separated); the
command-line flags. Secrets (``token``, ``hmac_secret``) come only from the environment or
flags, never from a file, and are masked whenever settings are printed
(``bucketstream serve --print-settings``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from steps import format_validation_error
from storage_adapter import TransferSettings
from trigger_service.errors import WorkflowConfigError
from trigger_service.execution.admission import AdmissionLimits
from trigger_service.execution.leases import DEFAULT_LEASE_SECONDS
from trigger_service.intake.sqs import SqsSettings
from trigger_service.workflows.model import read_yaml_file

ENV_PREFIX = "BUCKETSTREAM_"
SECRETS = ("token", "hmac_secret", "sns_path_secrets")
MASK = "********"

_TRANSFER = TransferSettings()
_SQS = SqsSettings()
_ADMISSION = AdmissionLimits()
#: Connections and requests uvicorn serves at once; beyond it answers 503 at once.
DEFAULT_LIMIT_CONCURRENCY = 1000


class ServiceSettings(BaseSettings):
    """Every setting of ``bucketstream serve``; see the module docstring for the sources."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True, case_sensitive=False
    )

    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(8080, ge=0, le=65535, description="port to listen on")
    endpoint_url: str | None = Field(None, description="S3 endpoint (default: embedded or AWS)")
    region: str | None = Field(None, description="region (default: AWS_REGION or us-east-1)")
    store: str | None = Field(
        None, description="execution store: SQLite file, sqlite:///PATH or postgresql://…"
    )
    worker_id: str | None = Field(None, description="this worker's id (default host-pid-random)")
    lease_seconds: float = Field(DEFAULT_LEASE_SECONDS, ge=1, description="execution lease")
    embedded: bool | None = Field(None, description="force or forbid the embedded S3 + SQS")
    concurrency: int | None = Field(None, ge=1, description="executions at once (2 × cores)")
    queue_size: int = Field(256, ge=1, description="executions waiting at most")
    queue_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="SQS queues to poll"
    )
    sqs_endpoint_url: str | None = Field(None, description="SQS endpoint (default: the S3 one)")
    visibility_timeout: int = Field(_SQS.visibility_timeout, ge=2, le=43200)
    wait_seconds: int = Field(_SQS.wait_seconds, ge=0, le=20)
    max_receives: int = Field(_SQS.max_receive, ge=1)
    redelivery_base: int = Field(_SQS.redelivery_delay, ge=0, le=43200)
    redelivery_cap: int = Field(_SQS.redelivery_cap, ge=0, le=43200)
    drain_seconds: float = Field(25.0, ge=0, description="drain time on SIGTERM")
    chunk_size: int = Field(_TRANSFER.chunk_size, ge=1)
    read_ahead: int = Field(_TRANSFER.read_ahead, ge=1)
    part_size: int = Field(_TRANSFER.part_size, ge=5 * 1024 * 1024)
    parts_in_flight: int = Field(_TRANSFER.parts_in_flight, ge=1)
    channel_capacity: int = Field(_TRANSFER.channel_capacity, ge=1)
    log_format: Literal["text", "json"] = "text"
    # Admission bounds (trigger_service.execution.admission.AdmissionLimits) and uvicorn's.
    body_timeout: float = Field(_ADMISSION.body_timeout, gt=0, description="slow-body timeout")
    body_min_rate: int = Field(_ADMISSION.body_min_rate, ge=1, description="body bytes/s")
    upload_slots: int | None = Field(None, ge=1, description="raw uploads at once")
    max_event_records: int = Field(_ADMISSION.max_event_records, ge=1)
    head_parallel: int = Field(_ADMISSION.head_parallel, ge=1)
    head_budget_seconds: float = Field(_ADMISSION.head_budget_seconds, gt=0)
    max_streams: int = Field(_ADMISSION.max_streams, ge=1, description="live streams at once")
    limit_concurrency: int = Field(
        DEFAULT_LIMIT_CONCURRENCY, ge=1, description="connections and requests at once (503)"
    )
    keep_alive_seconds: int = Field(5, ge=1, description="idle keep-alive timeout, seconds")
    token: SecretStr | None = Field(None, description="shared token (environment or flag only)")
    hmac_secret: SecretStr | None = Field(None, description="HMAC secret (environment or flag)")
    sns_topics: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="SNS topic ARNs allowed to deliver"
    )
    smn_topics: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="SMN topic URNs allowed to deliver"
    )
    sns_path_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="secrets of /events/sns|smn/{secret} (environment only)",
    )

    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Host names served (default: loopback names)"
    )
    insecure_no_auth: bool = Field(False, description="listen beyond loopback without auth")

    @field_validator(
        "queue_urls", "sns_topics", "smn_topics", "sns_path_secrets", "allowed_hosts", mode="before"
    )
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def transfer(self) -> TransferSettings:
        """The transfer sizes."""
        return TransferSettings(
            chunk_size=self.chunk_size,
            read_ahead=self.read_ahead,
            part_size=self.part_size,
            parts_in_flight=self.parts_in_flight,
            channel_capacity=self.channel_capacity,
        )

    def admission(self) -> AdmissionLimits:
        """What one request may cost."""
        return AdmissionLimits(
            body_timeout=self.body_timeout,
            body_min_rate=self.body_min_rate,
            upload_slots=self.upload_slots,
            max_event_records=self.max_event_records,
            head_parallel=self.head_parallel,
            head_budget_seconds=self.head_budget_seconds,
            max_streams=self.max_streams,
        )

    def sqs(self) -> SqsSettings:
        """How the SQS pollers use their queues."""
        return SqsSettings(
            wait_seconds=self.wait_seconds,
            visibility_timeout=self.visibility_timeout,
            max_receive=self.max_receives,
            redelivery_delay=self.redelivery_base,
            redelivery_cap=self.redelivery_cap,
        )

    def masked(self) -> dict[str, Any]:
        """The settings as plain data, secrets replaced by :data:`MASK` when set."""
        data = self.model_dump(mode="json")
        for name in SECRETS:
            if data.get(name) is not None:
                data[name] = MASK
        return data


def read_settings_file(path: Path) -> dict[str, Any]:
    """The ``service:`` section of ``path`` (or the whole mapping of a settings file)."""
    data = read_yaml_file(path, "settings file")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise WorkflowConfigError(f"{path}: settings must be a mapping")
    section = data.get("service", {} if "workflows" in data else data)
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise WorkflowConfigError(f"{path}: service: must be a mapping")
    refused = sorted(name for name in section if name in SECRETS)
    if refused:
        raise WorkflowConfigError(
            f"{path}: service.{refused[0]}: secrets are read only from the environment "
            f"({ENV_PREFIX}{refused[0].upper()}), never from a file"
        )
    return {str(key).replace("-", "_"): value for key, value in section.items()}


def load_settings(
    file_values: Mapping[str, Any], flags: Mapping[str, Any], *, source: str = "settings"
) -> ServiceSettings:
    """Settings from ``file_values`` < environment < ``flags`` (None flags are not given)."""
    given = {name: value for name, value in flags.items() if value not in (None, ())}

    class _Layered(ServiceSettings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            from_file = InitSettingsSource(settings_cls, init_kwargs=dict(file_values))
            return (init_settings, env_settings, from_file)

    try:
        return _Layered(**given)
    except ValidationError as exc:
        raise WorkflowConfigError(f"{source}: {format_validation_error('service', exc)}") from None
