"""The one validated configuration object of a jetjobs service.

Values come, highest priority first, from keyword arguments, ``JETJOBS_*``
environment variables, the YAML file named by ``JETJOBS_CONFIG_FILE`` and the
defaults below. Unknown keys fail loudly, in the environment too: a misspelt
``JETJOBS_CONCURENCY`` stops the process instead of being ignored.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, create_model, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from ._defaults import Backoff, Duration, RetryDefaults, TimeZone
from ._names import PRIORITIES, Priority, check_namespace, check_queue_name
from .errors import ConfigError

ENV_PREFIX = "JETJOBS_"
_METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_METRIC_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_NESTED = "__"


class QueueConfig(BaseModel):
    """Settings of one queue.

    Stream-level (shared by every service): ``max_length``, ``replicas``,
    ``duplicate_window_s``. Consumer-level (cluster-wide): ``ack_wait_s``,
    ``max_in_flight``, ``max_deliveries``, ``rate_limit``/``rate_burst`` (unless
    ``rate_scope="replica"``). Per worker replica: ``concurrency``.

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
    rate_limit: float | None = Field(
        None, gt=0, description="jobs started per second: in the whole queue, or per replica (rate_scope)"
    )
    rate_burst: int | None = Field(None, ge=1, description="jobs that may start at once under rate_limit")
    rate_scope: Literal["queue", "replica"] = Field(
        "queue", description="rate_limit holds across all replicas (queue) or for each one (replica)"
    )
    replicas: int = Field(1, ge=1, le=5, description="stream replicas (3 in production clusters)")
    max_deliveries: int = Field(50, ge=2, description="server-side cap on deliveries; then dead-lettered")
    duplicate_window_s: float = Field(120.0, ge=1, description="enqueues with the same job id are dropped")
    priorities: tuple[Priority, ...] = Field(PRIORITIES, min_length=1)
    alert_backlog: int | None = Field(None, ge=1, description="alert while the backlog is above this many jobs")
    alert_error_rate: float | None = Field(
        None, gt=0, le=1, description="alert while this fraction of attempts fails (over alert_window_s)"
    )
    alert_window_s: float = Field(300.0, ge=1, description="window of the error rate of alert_error_rate")
    retry_policy: RetryDefaults | None = Field(None, description="retry defaults of the queue's tasks")
    timezone: TimeZone = Field(None, description="default time zone of the queue's schedules")

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
            # exclude_unset keeps "which fields were set" (Settings.replicas fills the others)
            merged = {**base.model_dump(exclude_unset=True), **self.model_dump(exclude_unset=True)}
            return QueueConfig.model_validate(merged)
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


REPLICAS_SETTINGS = ("status_replicas", "dlq_replicas", "workflow_replicas")
"""The per-object replicas settings that ``Settings.replicas`` fills when they are not given."""


class ScheduledTask(BaseModel):
    """One entry of ``scheduler: tasks:`` in YAML: fire task ``name`` (or ``task``) on ``schedule``.

    ``schedule`` is a cron expression (``"0 2 * * *"``) or an interval (``5m``, ``1h``);
    ``timeout`` and durations accept ``1s``, ``5m``, ``1h``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    task: str | None = None
    schedule: str
    timeout: Duration | None = Field(None, gt=0)
    retry_policy: RetryDefaults | None = None
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    queue: str | None = None
    priority: Priority | None = None
    timezone: TimeZone = None


class SchedulerSection(BaseModel):
    """``scheduler:`` in YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tasks: list[ScheduledTask] = Field(default_factory=list)


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
    replicas: int | None = Field(
        None,
        ge=1,
        le=5,
        description="replicas of every stream and bucket jetjobs creates (3 on a cluster), "
        "unless its own replicas setting is given",
    )
    status_replicas: int = Field(1, ge=1, le=5, description="replicas of the status, workers and schedules buckets")
    dlq_max_age_s: float = Field(14 * 86_400.0, ge=60, description="how long dead letters are kept")
    dlq_replicas: int = Field(1, ge=1, le=5, description="replicas of the dead-letter stream")
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
    provision_on_start: bool = Field(
        True,
        description="workers create or update their queues' streams and consumers at start; false: they "
        "only check that 'jetjobs provision' created them (and need no create rights)",
    )
    shutdown_grace_s: float = Field(25.0, ge=0, description="time running jobs get to finish on SIGTERM")
    processes: int | None = Field(None, ge=1, description="process pool size for cpu_bound tasks")
    worker_processes: int = Field(
        1, ge=1, description="worker processes `jetjobs worker` runs side by side (--processes); 1: just itself"
    )
    unknown_task_retries: int = Field(2, ge=0, description="re-deliveries before an unknown task is dead")
    version_wait_s: float = Field(
        3600.0, ge=0, description="a job whose task version no worker has waits this long (from enqueue), then is dead"
    )
    unique_lock_ttl_s: float = Field(
        30.0, ge=3, description="a running unique job's key lives this long unless refreshed (every third of it)"
    )
    metrics_port: int | None = Field(None, ge=0, le=65_535, description="serve /metrics /healthz /readyz here")
    metrics_host: str = Field("0.0.0.0", description="address the metrics/health server listens on")
    metrics_namespace: str = Field("jetjobs", description="prefix of every metric name (jetjobs_jobs_total...)")
    metrics_labels: dict[str, str] = Field(default_factory=dict, description="constant labels on every metric")
    alert_interval_s: float = Field(5.0, gt=0, description="how often workers evaluate queue alerts")
    log_arguments: bool = Field(False, description="put job arguments in job log lines (redacted; off by default)")
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    otel: bool = False
    config_file: Path | None = Field(None, description="YAML file with any of these settings")
    retry_policy: RetryDefaults | None = Field(None, description="app-wide retry defaults of tasks")
    timezone: TimeZone = Field(None, description="app-wide default time zone of schedules (else UTC)")
    scheduler: SchedulerSection | None = Field(None, description="schedules declared in settings (YAML)")

    @model_validator(mode="before")
    @classmethod
    def _tasks_section(cls, data: Any) -> Any:
        """The spec's ``tasks: queues: {...}`` form: the same as top-level ``queues:``."""
        if not isinstance(data, dict) or "tasks" not in data:
            return data
        data = dict(data)
        section = data.pop("tasks") or {}
        if not isinstance(section, dict):
            raise ValueError("tasks: must be a mapping with a 'queues' key")
        unknown = set(section) - {"queues"}
        if unknown:
            raise ValueError(f"tasks: unknown key {sorted(unknown)[0]!r}; only 'queues' goes there")
        queues = dict(data.get("queues") or {})
        for name, fields in (section.get("queues") or {}).items():
            queues[name] = {**dict(queues.get(name) or {}), **dict(fields or {})}
        data["queues"] = queues
        return data

    @model_validator(mode="before")
    @classmethod
    def _replicas_default(cls, data: Any) -> Any:
        """``replicas`` fills every per-object replicas setting that is not given itself."""
        if isinstance(data, Mapping) and data.get("replicas") is not None:
            data = dict(data)
            for name in REPLICAS_SETTINGS:
                if data.get(name) is None:
                    data[name] = data["replicas"]
        return data

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        check_namespace(self.namespace)
        for name in self.queues:
            check_queue_name(name)
        if not any(u.strip() for u in self.nats_url.split(",")):
            raise ValueError("nats_url is empty")
        for url in self.servers:
            check_nats_url(url)
        if (self.nats_password is None) != (self.nats_user is None):
            raise ValueError("nats_user and nats_password go together")
        if self.nats_token is not None and self.nats_user is not None:
            raise ValueError("use either nats_token or nats_user/nats_password, not both")
        if not _METRIC_NAME_RE.fullmatch(self.metrics_namespace):
            raise ValueError(f"metrics_namespace {self.metrics_namespace!r}: use letters, digits, '_' or ':'")
        for label in self.metrics_labels:
            if not _METRIC_LABEL_RE.fullmatch(label) or label.startswith("__"):
                raise ValueError(f"metrics_labels: {label!r} is not a Prometheus label name")
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
        cfg = override.apply_to(base) if override is not None else base
        if self.replicas is not None and "replicas" not in cfg.model_fields_set:
            cfg = cfg.model_copy(update={"replicas": self.replicas})
        return cfg

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


NATS_SCHEMES = ("nats", "tls", "ws", "wss")


def check_nats_url(url: str) -> None:
    """Refuse at once a server URL the client could only fail on later (``http://``, no host).

    >>> check_nats_url("nats://10.0.0.5:4222")
    """
    forms = "accepted forms: nats://host:4222, tls://host:4222, ws://host:8080, wss://host:443 or host:4222"
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "nats", url
    if scheme.lower() not in NATS_SCHEMES:
        raise ValueError(f"nats_url {url!r} has the scheme {scheme + '://'!r}; {forms}")
    try:
        parsed = urlsplit(f"{scheme}://{rest}")
        parsed.port  # noqa: B018 - reading it validates the port
    except ValueError as exc:
        raise ValueError(f"nats_url {url!r} is not a URL ({exc}); {forms}") from None
    if not parsed.hostname:
        raise ValueError(f"nats_url {url!r} names no host; {forms}")


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


# Variables read by one command, not settings of every service (a secret stays out of Settings).
COMMAND_VARIABLES = frozenset({"JETJOBS_UI_BASIC_AUTH"})


def check_environment(environ: Mapping[str, str]) -> None:
    """Raise ConfigError for a ``JETJOBS_*`` variable that names no setting."""
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | COMMAND_VARIABLES
    for key in environ:
        upper = key.upper()
        if not upper.startswith(ENV_PREFIX) or upper in known:
            continue
        if any(upper.startswith(f"{ENV_PREFIX}{name}{_NESTED}") for name in _NESTED_SETTINGS):
            continue
        close = difflib.get_close_matches(upper, sorted(known), n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ConfigError(f"unknown setting {key} in the environment{hint}")


_NESTED_SETTINGS = ("QUEUES", "RETRY_POLICY", "SCHEDULER")


def _describe(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "settings"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and err["loc"]:
            close = difflib.get_close_matches(str(err["loc"][-1]), _known_keys(), n=1, cutoff=0.6)
            message = "unknown key" + (f"; did you mean {close[0]!r}?" if close else "")
        problems.append(f"{where}: {message}")
    return "invalid settings: " + "; ".join(problems)


def _known_keys() -> list[str]:

    models: tuple[type[BaseModel], ...] = (
        Settings,
        QueueConfig,
        RetryDefaults,
        Backoff,
        SchedulerSection,
        ScheduledTask,
    )
    return sorted({name for model in models for name in model.model_fields} | {"tasks"})
