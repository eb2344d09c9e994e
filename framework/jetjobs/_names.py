"""Names of every subject, stream, consumer and bucket jetjobs uses.

Pure functions of (namespace, queue, priority), so producers in any language and
operators can compute them too (see docs/wire-protocol.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

from .errors import ConfigError

Priority = Literal["high", "normal", "low"]
PRIORITIES: tuple[Priority, ...] = get_args(Priority)

_QUEUE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_NAMESPACE_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
_JOB_ID_RE = re.compile(r"^[A-Za-z0-9_=-]+(\.[A-Za-z0-9_=-]+)*$")
JOB_ID_MAX = 200
# Subject roots of the default namespace: a namespace with one of these names would overlap them.
_RESERVED_NAMESPACES = frozenset({"jobs", "dlq", "delayed"})


def check_queue_name(name: str) -> str:
    """Return ``name`` if it is a valid queue name, else raise ConfigError."""
    if not _QUEUE_RE.fullmatch(name):
        raise ConfigError(
            f"invalid queue name {name!r}: use lower-case letters, digits, '_' or '-' "
            "(at most 63 characters, starting with a letter or digit)"
        )
    return name


def check_namespace(name: str) -> str:
    """Return ``name`` if it is a valid namespace ('' means none), else raise ConfigError."""
    if name and not _NAMESPACE_RE.fullmatch(name):
        raise ConfigError(f"invalid namespace {name!r}: use lower-case letters, digits and '-' (at most 32 characters)")
    if name in _RESERVED_NAMESPACES:
        raise ConfigError(f"namespace {name!r} is reserved: its subjects would mix with the default namespace's")
    return name


HIGH_AT = 5
LOW_AT = -5


def check_priority(priority: str | int) -> Priority:
    """Return ``priority`` as a level, else raise ConfigError.

    An integer is mapped onto the strict levels, higher first: ``>= 5`` is ``high``,
    ``<= -5`` is ``low``, anything between is ``normal`` (so ``priority=10`` is high,
    ``priority=-10`` low, ``0`` normal). Jobs of one level are served in order.
    """
    if isinstance(priority, int) and not isinstance(priority, bool):
        return "high" if priority >= HIGH_AT else "low" if priority <= LOW_AT else "normal"
    if priority not in PRIORITIES:
        raise ConfigError(
            f"invalid priority {priority!r}: use one of {', '.join(PRIORITIES)}, or an integer "
            f"(>= {HIGH_AT} high, <= {LOW_AT} low, else normal)"
        )
    return priority


def is_valid_job_id(job_id: str) -> bool:
    """True when ``job_id`` can be a job id (it becomes a KV key and a subject token)."""
    return 0 < len(job_id) <= JOB_ID_MAX and bool(_JOB_ID_RE.fullmatch(job_id))


@dataclass(frozen=True)
class Names:
    """Computes names for one namespace.

    >>> Names().subject("emails", "high")
    'jobs.emails.high'
    >>> Names("staging").stream("emails")
    'STAGING_JOBS_emails'
    """

    namespace: str = ""

    def __post_init__(self) -> None:
        check_namespace(self.namespace)

    @property
    def _subject_prefix(self) -> str:
        return f"{self.namespace}." if self.namespace else ""

    @property
    def _stream_prefix(self) -> str:
        # Queue names are lower case, so the upper-case namespace and the fixed
        # JOBS token keep system streams and queue streams from colliding.
        ns = self.namespace.upper().replace("-", "_")
        return f"{ns}_JOBS" if ns else "JOBS"

    def subject(self, queue: str, priority: Priority) -> str:
        return f"{self._subject_prefix}jobs.{queue}.{priority}"

    def queue_subjects(self, queue: str) -> str:
        """Wildcard covering every subject of the queue's stream."""
        return f"{self._subject_prefix}jobs.{queue}.>"

    def stream(self, queue: str) -> str:
        return f"{self._stream_prefix}_{queue}"

    def consumer(self, queue: str, priority: Priority) -> str:
        return f"{queue}-{priority}"

    def parse_subject(self, subject: str) -> tuple[str, Priority] | None:
        """Inverse of :meth:`subject`; None when it is not a job subject of this namespace."""
        prefix = f"{self._subject_prefix}jobs."
        if not subject.startswith(prefix):
            return None
        parts = subject[len(prefix) :].split(".")
        if len(parts) != 2 or parts[1] not in PRIORITIES or not _QUEUE_RE.fullmatch(parts[0]):
            return None
        return parts[0], parts[1]

    @property
    def dlq_stream(self) -> str:
        return f"{self._stream_prefix}_DLQ"

    def dlq_subject(self, queue: str) -> str:
        return f"{self._subject_prefix}dlq.{queue}"

    @property
    def dlq_subjects(self) -> str:
        return f"{self._subject_prefix}dlq.>"

    @property
    def advisory_stream(self) -> str:
        return f"{self._stream_prefix}_ADVISORIES"

    def max_deliveries_advisory(self, queue: str) -> str:
        return f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{self.stream(queue)}.*"

    def mover_consumer(self, queue: str) -> str:
        return f"dlq-mover-{queue}"

    @property
    def status_bucket(self) -> str:
        return f"{self._stream_prefix}_STATUS"

    # Cluster-wide rate limits: one counter subject per queue and time window (ADR-49 counters).
    @property
    def rate_stream(self) -> str:
        return f"{self._stream_prefix}_RATE"

    @property
    def rate_subjects(self) -> str:
        return f"{self._subject_prefix}rate.>"

    def rate_subject(self, queue: str, window: int) -> str:
        """The counter of the starts of ``queue`` in time window number ``window``."""
        return f"{self._subject_prefix}rate.{queue}.{window}"

    @property
    def catalog_bucket(self) -> str:
        """Task name -> the catalog entry its workers published (``_catalog.CatalogEntry``)."""
        return f"{self._stream_prefix}_CATALOG"

    @property
    def workers_bucket(self) -> str:
        """Worker presence records (heartbeats with a TTL), read by the web UI."""
        return f"{self._stream_prefix}_WORKERS"

    @property
    def cancel_bucket(self) -> str:
        """Job id -> cancel request: workers skip such a queued job and stop such a running one."""
        return f"{self._stream_prefix}_CANCELS"

    @property
    def locks_bucket(self) -> str:
        """Unique-job keys (hashed) -> the job holding them, each with its own TTL."""
        return f"{self._stream_prefix}_LOCKS"

    @property
    def schedules_bucket(self) -> str:
        return f"{self._stream_prefix}_SCHEDULES"

    # Workflows: definitions, run state, fan-in counters, event log, large outputs.
    @property
    def workflow_defs_bucket(self) -> str:
        return f"{self._stream_prefix}_WF_DEFS"

    @property
    def workflow_runs_bucket(self) -> str:
        return f"{self._stream_prefix}_WF_RUNS"

    @property
    def workflow_join_stream(self) -> str:
        return f"{self._stream_prefix}_WF_JOIN"

    def workflow_join(self, run_id: str, key: str) -> str:
        return f"{self._subject_prefix}wfjoin.{run_id}.{key}"

    def workflow_joins(self, run_id: str = "*") -> str:
        return f"{self._subject_prefix}wfjoin.{run_id}.>"

    @property
    def workflow_events_stream(self) -> str:
        return f"{self._stream_prefix}_WF_EVENTS"

    def workflow_events(self, run_id: str = "*") -> str:
        return f"{self._subject_prefix}wfev.{run_id}"

    @property
    def workflow_objects_bucket(self) -> str:
        return f"{self._stream_prefix}_WF_OUT"

    @property
    def workflow_cancel_subject(self) -> str:
        """Core NATS: a run's cancellation is broadcast here to the workers running its steps."""
        return f"{self._subject_prefix}jetjobs.wf.cancel"

    # Delayed jobs wait as message schedules in a stream of their own: schedules
    # cannot live in a queue stream, whose discard=new (for max_length) the server
    # refuses to combine with allow_msg_schedules. A fired job lands on a "due"
    # subject of that stream, and workers of the queue forward it into the queue.
    @property
    def delayed_stream(self) -> str:
        return f"{self._stream_prefix}_DELAYED"

    @property
    def delayed_subjects(self) -> str:
        return f"{self._subject_prefix}delayed.>"

    def delayed_at(self, queue: str, job_id: str) -> str:
        """The schedule subject of one delayed job (one schedule per subject)."""
        return f"{self._subject_prefix}delayed.{queue}.at.{job_id}"

    def delayed_due(self, queue: str, priority: Priority) -> str:
        """Where a delayed job lands when its time comes."""
        return f"{self._subject_prefix}delayed.{queue}.due.{priority}"

    def delayed_due_all(self, queue: str) -> str:
        return f"{self._subject_prefix}delayed.{queue}.due.*"

    def forwarder_consumer(self, queue: str) -> str:
        return f"forward-{queue}"

    def is_queue_stream(self, stream: str) -> str | None:
        """The queue name if ``stream`` is a queue stream of this namespace."""
        prefix = f"{self._stream_prefix}_"
        if not stream.startswith(prefix):
            return None
        queue = stream[len(prefix) :]
        return queue if _QUEUE_RE.fullmatch(queue) else None
