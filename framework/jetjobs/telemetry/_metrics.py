"""Process metrics: a small registry rendered as Prometheus text and bridged to OpenTelemetry.

Why not record straight into the OpenTelemetry SDK? Measured here, one
``Counter.add`` with three attributes costs ~8 µs and one ``Histogram.record``
~5 µs: ~20 µs per job, a third of the worker's whole per-job budget. These
instruments cost well under a microsecond; the OTel bridge (``_setup.bridge_metrics``)
reads them only when an exporter collects.

Names (documented in docs/observability.md; ``configure(namespace, labels)`` renames the
``jetjobs`` prefix and adds constant labels, process-wide):

    jetjobs_jobs_total{task,queue,outcome}         succeeded | retried | failed | dead | cancelled
    jetjobs_job_duration_seconds{task,queue}      histogram of attempt run time
    jetjobs_queue_wait_seconds{task,queue}        histogram of enqueue -> first start
    jetjobs_jobs_in_flight{queue}                 jobs running in this process
    jetjobs_queue_backlog{queue,priority}         consumer num_pending + num_ack_pending
    jetjobs_enqueued_total{task,queue}            jobs published by this process
    jetjobs_schedule_fires_total{schedule}        fires published by this scheduler
    jetjobs_alert_active{queue,alert}             1 while a queue alert is over its threshold (backlog | error_rate)
    jetjobs_workflow_runs_total{workflow,state}   runs ended, by final state (counted where they end)
    jetjobs_workflow_run_duration_seconds{workflow,state}  start -> end of runs
"""

from __future__ import annotations

import bisect
import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence

Labels = tuple[str, ...]
DEFAULT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


def sample_value(value: float) -> str:
    """A sample's value: whole numbers exact (``{:g}`` would print 1234567 as 1.23457e+06), others in full.

    >>> sample_value(1234567.0), sample_value(0.25), sample_value(float("inf"))
    ('1234567', '0.25', '+Inf')
    """
    value = float(value)  # gauge sources may hand ints
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


_PREFIX = "jetjobs"
_namespace = _PREFIX
_constant: tuple[tuple[str, str], ...] = ()
_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_RESERVED_LABELS = frozenset({"task", "queue", "outcome", "priority", "schedule", "workflow", "state", "alert", "le"})


def configure(namespace: str = _PREFIX, labels: Mapping[str, str] | None = None) -> None:
    """Name every metric ``<namespace>_...`` and add constant ``labels`` to every sample (process-wide).

    >>> configure("acme_jobs", {"env": "prod"}); exposed("jetjobs_jobs_total"); configure()
    'acme_jobs_jobs_total'
    """
    global _namespace, _constant
    if not _NAME_RE.fullmatch(namespace):
        raise ValueError(f"metrics namespace {namespace!r} is not a Prometheus name")
    for name in labels or {}:
        if not _LABEL_RE.fullmatch(name) or name.startswith("__") or name in _RESERVED_LABELS:
            raise ValueError(f"metrics label {name!r} is not a Prometheus label name, or is one jetjobs uses")
    _namespace = namespace
    _constant = tuple(sorted((labels or {}).items()))


def exposed(name: str) -> str:
    """The name a metric is exported under (its namespace applied)."""
    return _namespace + name[len(_PREFIX) :] if name.startswith(_PREFIX + "_") else name


def constant_labels() -> dict[str, str]:
    return dict(_constant)


def _labels(names: Sequence[str], values: Labels, extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in (*zip(names, values, strict=True), *_constant)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class Counter:
    def __init__(self, name: str, help_text: str, labels: Sequence[str]) -> None:
        self.name, self.help, self.label_names = name, help_text, tuple(labels)
        self.values: dict[Labels, float] = {}

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def render(self) -> list[str]:
        name = exposed(self.name)
        lines = [f"# HELP {name} {self.help}", f"# TYPE {name} counter"]
        lines += [f"{name}{_labels(self.label_names, k)} {sample_value(v)}" for k, v in sorted(self.values.items())]
        return lines


class Histogram:
    def __init__(
        self, name: str, help_text: str, labels: Sequence[str], buckets: Sequence[float] = DEFAULT_BUCKETS
    ) -> None:
        self.name, self.help, self.label_names = name, help_text, tuple(labels)
        self.buckets = tuple(buckets)
        self.counts: dict[Labels, list[int]] = {}
        self.sums: dict[Labels, float] = {}

    def observe(self, labels: Labels, value: float) -> None:
        counts = self.counts.get(labels)
        if counts is None:
            counts = self.counts[labels] = [0] * (len(self.buckets) + 1)
            self.sums[labels] = 0.0
        counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sums[labels] += value

    def total(self, labels: Labels) -> int:
        return sum(self.counts.get(labels, ()))

    def render(self) -> list[str]:
        name = exposed(self.name)
        lines = [f"# HELP {name} {self.help}", f"# TYPE {name} histogram"]
        for key, counts in sorted(self.counts.items()):
            running = 0
            for bound, count in zip((*self.buckets, float("inf")), counts, strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                bucket_labels = _labels(self.label_names, key, 'le="' + le + '"')
                lines.append(f"{name}_bucket{bucket_labels} {running}")
            lines.append(f"{name}_sum{_labels(self.label_names, key)} {sample_value(self.sums[key])}")
            lines.append(f"{name}_count{_labels(self.label_names, key)} {running}")
        return lines


GaugeSource = Callable[[], dict[Labels, float]]


class Gauge:
    """Values read from sources (callbacks) when collected."""

    def __init__(self, name: str, help_text: str, labels: Sequence[str]) -> None:
        self.name, self.help, self.label_names = name, help_text, tuple(labels)
        self._sources: list[GaugeSource] = []
        self._lock = threading.Lock()

    def add_source(self, source: GaugeSource) -> None:
        with self._lock:
            self._sources.append(source)

    def remove_source(self, source: GaugeSource) -> None:
        with self._lock:
            if source in self._sources:
                self._sources.remove(source)

    def read(self) -> dict[Labels, float]:
        values: dict[Labels, float] = {}
        with self._lock:
            sources = list(self._sources)
        for source in sources:
            values.update(source())
        return values

    def render(self) -> list[str]:
        name = exposed(self.name)
        lines = [f"# HELP {name} {self.help}", f"# TYPE {name} gauge"]
        lines += [f"{name}{_labels(self.label_names, k)} {sample_value(v)}" for k, v in sorted(self.read().items())]
        return lines


jobs = Counter("jetjobs_jobs_total", "Job attempts by outcome.", ("task", "queue", "outcome"))
duration = Histogram("jetjobs_job_duration_seconds", "Run time of job attempts.", ("task", "queue"))
queue_wait = Histogram(
    "jetjobs_queue_wait_seconds", "Time from enqueue to the first start of a job.", ("task", "queue")
)
in_flight = Gauge("jetjobs_jobs_in_flight", "Jobs running in this process.", ("queue",))
backlog = Gauge(
    "jetjobs_queue_backlog",
    "Jobs not yet done per queue consumer (num_pending + num_ack_pending).",
    ("queue", "priority"),
)
enqueued = Counter("jetjobs_enqueued_total", "Jobs published by this process.", ("task", "queue"))
schedule_fires = Counter("jetjobs_schedule_fires_total", "Schedule fires published by this process.", ("schedule",))

alert_active = Gauge(
    "jetjobs_alert_active",
    "1 while a queue's alert (backlog or error_rate) is over its threshold, as this worker sees it.",
    ("queue", "alert"),
)

workflow_runs = Counter("jetjobs_workflow_runs_total", "Workflow runs ended, by final state.", ("workflow", "state"))
workflow_duration = Histogram(
    "jetjobs_workflow_run_duration_seconds", "Time from a workflow run's start to its end.", ("workflow", "state")
)

ALL: tuple[Counter | Histogram | Gauge, ...] = (
    jobs,
    duration,
    queue_wait,
    in_flight,
    backlog,
    enqueued,
    schedule_fires,
    alert_active,
    workflow_runs,
    workflow_duration,
)


def render() -> str:
    """Every metric in the Prometheus text exposition format (version 0.0.4)."""
    lines: list[str] = []
    for metric in ALL:
        lines += metric.render()
    return "\n".join(lines) + "\n"


def workflow_ended(workflow: str, state: str, duration_s: float) -> None:
    """Count a run that ended here (called by the one process whose write ended it)."""
    workflow_runs.inc((workflow, state))
    workflow_duration.observe((workflow, state), max(duration_s, 0.0))
