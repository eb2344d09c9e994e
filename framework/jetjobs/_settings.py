"""The one validated configuration object of a jetjobs service.

Values come, highest priority first, from keyword arguments, ``JETJOBS_*``
environment variables, the YAML file named by ``JETJOBS_CONFIG_FILE`` and the
defaults below. Unknown keys fail loudly, in the environment too: a misspelt
``JETJOBS_CONCURENCY`` stops the process instead of being ignored.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, create_model, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from ._names import PRIORITIES, Priority, check_namespace, check_queue_name
from .errors import ConfigError

ENV_PREFIX = "JETJOBS_"
_NESTED = "__"


class QueueConfig(BaseModel):
    """Settings of one queue.

    Stream-level (shared by every service): ``max_length``, ``replicas``,
    ``duplicate_window_s``. Consumer-level (cluster-wide): ``ack_wait_s``,
    ``max_in_flight``, ``max_deliveries``. Per worker replica: ``concurrency``,
    ``rate_limit``/``rate_burst``.

    Example::

        App("billing", queues={"emails": QueueConfig(concurrency=32, max_length=100_000)})
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    concurrency: int = Field(64, ge=1, le=10_000, description="jobs run at once per worker replica")
    max_in_flight: int | None = Field(
        None, ge=1, description="cluster-wide cap on unacknowledged jobs per priority (max_ack_pending)"
    )
    max_length: int | None = Field(None, ge=1, description="enqueue raises QueueFull beyond this many jobs")
    ack_wait_s: float = Field(30.0, ge=1, description="redelivery delay after a worker is lost")
    rate_limit: float | None = Field(None, gt=0, description="jobs started per second per worker replica")
    rate_burst: int | None = Field(None, ge=1, description="jobs that may start at once under rate_limit")
    replicas: int = Field(1, ge=1, le=5, description="stream replicas (3 in production clusters)")
    max_deliveries: int = Field(50, ge=2, description="server-side cap on deliveries; then dead-lettered")
    duplicate_window_s: float = Field(120.0, ge=1, description="enqueues with the same job id are dropped")
    priorities: tuple[Priority, ...] = Field(PRIORITIES, min_length=1)

    @model_validator(mode="after")
    def _cross_checks(self) -> QueueConfig:
        if self.rate_burst is not None and self.rate_limit is None:
            raise ValueError("rate_burst needs rate_limit")
        if len(set(self.priorities)) != len(self.priorities):
            raise ValueError("priorities must not repeat")
        return self

    @property
    def heartbeat_s(self) -> float:
        """How often a running job is reported in progress: a third of ack_wait_s."""
        return self.ack_wait_s / 3

    def ordered_priorities(self) -> tuple[Priority, ...]:
        return tuple(p for p in PRIORITIES if p in self.priorities)


QueueLookup = Callable[[str], QueueConfig]
"""The effective settings of a queue by name (``App.queue_config``): what collaborators are handed."""


class _QueueOverrideBase(BaseModel):
    """Single fields of a QueueConfig set by the environment or the config file.

    Each field is checked on its own when settings load (same limits as
    QueueConfig); the override is then merged into the queue's declaration in code
    and validated as a whole, so ``JETJOBS_QUEUES__emails__RATE_BURST=20`` alone is a
    valid override of a queue whose ``rate_limit`` is set in code.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    def apply_to(self, base: QueueConfig) -> QueueConfig:
        try:
            return QueueConfig.model_validate({**base.model_dump(), **self.model_dump(exclude_unset=True)})
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from None


if TYPE_CHECKING:

    class QueueOverride(_QueueOverrideBase):
        def __init__(self, **fields: Any) -> None: ...

else:
    QueueOverride = create_model(
        "QueueOverride",
        __base__=_QueueOverrideBase,
        **{
            name: (info.annotation | None, FieldInfo.merge_field_infos(info, default=None))
            for name, info in QueueConfig.model_fields.items()
        },
    )


class Settings(BaseSettings):
    """Connection, naming and runtime settings of a service (env prefix ``JETJOBS_``)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter=_NESTED, extra="forbid", frozen=True)

    nats_url: str = Field("nats://127.0.0.1:4222", description="comma-separated server URLs")
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    nats_token: SecretStr | None = None
    nats_creds_file: Path | None = None
    nats_nkey_seed_file: Path | None = None
    nats_tls_ca_file: Path | None = None
    nats_tls_cert_file: Path | None = None
    nats_tls_key_file: Path | None = None
    nats_inbox_prefix: str = Field(
        "_INBOX",
        pattern=r"^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$",
        description="subject prefix of reply inboxes; a per-user prefix keeps users from reading each other's replies",
    )
    namespace: str = Field("", description="prefix that isolates environments or tenants")
    connect_timeout_s: float = Field(5.0, gt=0, description="how long to keep trying the first connect")
    request_timeout_s: float = Field(5.0, gt=0, description="timeout of JetStream API calls and publishes")
    result_ttl_s: float = Field(86_400.0, ge=1, description="how long job status and results are kept")
    status_replicas: int = Field(1, ge=1, le=5)
    dlq_max_age_s: float = Field(14 * 86_400.0, ge=60, description="how long dead letters are kept")
    dlq_replicas: int = Field(1, ge=1, le=5)
    workflow_retention_s: float = Field(
        7 * 86_400.0, ge=60, description="how long a workflow run's state, outputs and log are kept"
    )
    workflow_replicas: int = Field(1, ge=1, le=5, description="replicas of the workflow buckets and streams")
    workflow_inline_output_bytes: int = Field(
        64 * 1024, ge=0, description="step outputs larger than this go to the workflow object store"
    )
    workflow_max_output_bytes: int = Field(
        8 * 1024 * 1024, ge=1, description="a step output larger than this fails the step for good"
    )
    queues: dict[str, QueueOverride] = Field(default_factory=dict)
    shutdown_grace_s: float = Field(25.0, ge=0, description="time running jobs get to finish on SIGTERM")
    processes: int | None = Field(None, ge=1, description="process pool size for cpu_bound tasks")
    unknown_task_retries: int = Field(2, ge=0, description="re-deliveries before an unknown task is dead")
    metrics_port: int | None = Field(None, ge=0, le=65_535, description="serve /metrics /healthz /readyz here")
    metrics_host: str = Field("0.0.0.0", description="address the metrics/health server listens on")
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    otel: bool = False
    config_file: Path | None = Field(None, description="YAML file with any of these settings")

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        check_namespace(self.namespace)
        for name in self.queues:
            check_queue_name(name)
        if not any(u.strip() for u in self.nats_url.split(",")):
            raise ValueError("nats_url is empty")
        if (self.nats_password is None) != (self.nats_user is None):
            raise ValueError("nats_user and nats_password go together")
        if self.nats_token is not None and self.nats_user is not None:
            raise ValueError("use either nats_token or nats_user/nats_password, not both")
        if self.nats_creds_file is not None and self.nats_nkey_seed_file is not None:
            raise ValueError("use either nats_creds_file or nats_nkey_seed_file, not both")
        if (self.nats_tls_cert_file is None) != (self.nats_tls_key_file is None):
            raise ValueError("nats_tls_cert_file and nats_tls_key_file go together")
        return self

    @property
    def servers(self) -> list[str]:
        return [u.strip() for u in self.nats_url.split(",") if u.strip()]

    def queue(self, name: str, declared: QueueConfig | None = None) -> QueueConfig:
        """Queue ``name``: its declaration in code (or defaults) with these settings' overrides."""
        base = declared if declared is not None else QueueConfig()
        override = self.queues.get(name)
        return override.apply_to(base) if override is not None else base

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file(init_settings())
        if path is not None:
            if not path.is_file():
                raise ConfigError(f"config file {path} does not exist")
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)


def _config_file(init: Mapping[str, Any]) -> Path | None:
    value = init.get("config_file") or os.environ.get(f"{ENV_PREFIX}CONFIG_FILE")
    return Path(value) if value else None


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build Settings, turning every validation problem into one clear ConfigError.

    >>> load_settings(nats_url="nats://10.0.0.5:4222").servers
    ['nats://10.0.0.5:4222']
    """
    check_environment(os.environ if environ is None else environ)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def check_environment(environ: Mapping[str, str]) -> None:
    """Raise ConfigError for a ``JETJOBS_*`` variable that names no setting."""
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    for key in environ:
        upper = key.upper()
        if not upper.startswith(ENV_PREFIX) or upper in known:
            continue
        if upper.startswith(f"{ENV_PREFIX}QUEUES{_NESTED}"):
            continue
        close = difflib.get_close_matches(upper, sorted(known), n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ConfigError(f"unknown setting {key} in the environment{hint}")


def _describe(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "settings"
        problems.append(f"{where}: {err['msg']}")
    return "invalid settings: " + "; ".join(problems)
