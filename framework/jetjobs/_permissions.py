"""The NATS permissions each jetjobs role needs, as a pure function of names.

``permissions(role, queues, namespace=..., inbox_prefix=...)`` lists the subjects
a user of that role must be allowed to publish and subscribe to, each with the
reason, built from the same ``Names`` the code uses. ``jetjobs permissions``
prints them as a nats-server ``permissions`` block (or JSON); docs/security.md
explains the roles. The tests in tests/security run every role against a server
configured with exactly these blocks, and remove each entry in turn to show it
is needed.

Example::

    >>> block = permissions("producer", ["emails"])
    >>> "jobs.emails.*" in block.publish_subjects
    True
    >>> print(block.to_conf())  # doctest: +ELLIPSIS
    permissions: {
    ...
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from ._names import PRIORITIES, Names, check_queue_name
from .errors import ConfigError

Role = Literal["provisioner", "worker", "producer", "scheduler", "ui"]
ROLES: tuple[Role, ...] = get_args(Role)
_API = "$JS.API"


@dataclass(frozen=True, slots=True)
class Allow:
    """One allowed subject and why the role needs it."""

    subject: str
    why: str


@dataclass(frozen=True, slots=True)
class Permissions:
    """The publish and subscribe allow lists of one role (everything else is denied)."""

    role: Role
    publish: tuple[Allow, ...]
    subscribe: tuple[Allow, ...]

    @property
    def publish_subjects(self) -> list[str]:
        return [a.subject for a in self.publish]

    @property
    def subscribe_subjects(self) -> list[str]:
        return [a.subject for a in self.subscribe]

    def to_json(self) -> dict[str, dict[str, list[str]]]:
        """The shape of nats-server's ``permissions`` (and of a JWT's pub/sub allow lists)."""
        return {"publish": _rule(self.publish_subjects), "subscribe": _rule(self.subscribe_subjects)}

    def to_conf(self) -> str:
        """A nats-server config ``permissions`` block, one commented subject per line."""
        lines = ["permissions: {"]
        for kind, allows in (("publish", self.publish), ("subscribe", self.subscribe)):
            lines.append(f"  {kind}: {{")
            if allows:
                lines.append("    allow: [")
                lines += [f"      {json.dumps(a.subject)}  # {a.why}" for a in allows]
                lines.append("    ]")
            else:
                lines.append('    deny: [">"]  # an empty allow list would allow everything')
            lines.append("  }")
        lines.append("}")
        return "\n".join(lines)

    def without(self, subject: str) -> Permissions:
        """The same block less one subject (what the tests use to show each is needed)."""
        return Permissions(
            self.role,
            tuple(a for a in self.publish if a.subject != subject),
            tuple(a for a in self.subscribe if a.subject != subject),
        )


def _rule(subjects: list[str]) -> dict[str, list[str]]:
    return {"allow": subjects} if subjects else {"deny": [">"]}


def permissions(role: str, queues: Iterable[str], *, namespace: str = "", inbox_prefix: str = "_INBOX") -> Permissions:
    """The permissions of ``role`` for ``queues`` in ``namespace``.

    Raises ConfigError for an unknown role, an invalid queue name or no queue.
    """
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    names = Names(namespace)
    qs = sorted({check_queue_name(q) for q in queues})
    if not qs:
        raise ConfigError("give the queues the role works with (--queues q1,q2)")
    if not inbox_prefix or any(c in inbox_prefix for c in " *>"):
        raise ConfigError(f"invalid inbox prefix {inbox_prefix!r}")
    builder = _ROLES[role]
    publish = _dedupe([*_common(names), *builder(names, qs)])
    subscribe = _dedupe([Allow(f"{inbox_prefix}.>", "replies: API answers, acks, KV watches (the inbox prefix)")])
    if role == "worker":
        subscribe = _dedupe([*subscribe, Allow(names.workflow_cancel_subject, "cancelled workflow runs stop steps")])
    return Permissions(role, publish, subscribe)


def _dedupe(allows: Iterable[Allow]) -> tuple[Allow, ...]:
    seen: dict[str, Allow] = {}
    for allow in allows:
        seen.setdefault(allow.subject, allow)
    return tuple(seen.values())


# -- building blocks --------------------------------------------------------------------------


def _info(stream: str, why: str) -> Allow:
    return Allow(f"{_API}.STREAM.INFO.{stream}", why)


def _common(n: Names) -> list[Allow]:
    return [
        Allow(f"{_API}.INFO", "connect: JetStream is on"),
        _info(f"KV_{n.status_bucket}", "connect: the status bucket exists"),
    ]


def _kv_read(bucket: str, what: str, *, direct: bool = True) -> list[Allow]:
    get = (
        Allow(f"{_API}.DIRECT.GET.KV_{bucket}.$KV.{bucket}.>", f"read {what}")
        if direct
        else Allow(f"{_API}.STREAM.MSG.GET.KV_{bucket}", f"read {what} (from the stream leader)")
    )
    return [_info(f"KV_{bucket}", f"find the {what} bucket"), get]


def _kv_watch(bucket: str, what: str) -> list[Allow]:
    return [
        Allow(f"{_API}.CONSUMER.CREATE.KV_{bucket}", f"watch {what} (ordered consumer)"),
        Allow(f"{_API}.CONSUMER.INFO.KV_{bucket}.*", f"watch {what}: initial values"),
    ]


def _kv_scan(bucket: str, what: str) -> list[Allow]:
    """Reading every matching key once: an ordered consumer, deleted right after."""
    return [
        *_kv_watch(bucket, what),
        Allow(f"{_API}.CONSUMER.DELETE.KV_{bucket}.*", f"list {what}: drop the one-shot reader at once"),
    ]


def _kv_write(bucket: str, what: str) -> Allow:
    return Allow(f"$KV.{bucket}.>", f"write {what}")


def _queue_consumers(n: Names, q: str) -> list[tuple[str, str]]:
    pairs = [(n.stream(q), n.consumer(q, p)) for p in PRIORITIES]
    return [*pairs, (n.advisory_stream, n.mover_consumer(q)), (n.delayed_stream, n.forwarder_consumer(q))]


def _objects_read(n: Names) -> list[Allow]:
    bucket = n.workflow_objects_bucket
    return [
        _info(f"OBJ_{bucket}", "find the workflow output store"),
        Allow(f"{_API}.STREAM.MSG.GET.OBJ_{bucket}", "read a large workflow output's description"),
        Allow(f"{_API}.CONSUMER.CREATE.OBJ_{bucket}", "read a large workflow output's chunks (ordered consumer)"),
        Allow(f"{_API}.STREAM.NAMES", "nats-py looks up the output store's stream by subject"),
        Allow(f"$JS.FC.OBJ_{bucket}.>", "flow control while reading outputs of a few MB"),
    ]


def _workflow_reader(n: Names) -> list[Allow]:
    """Reading definitions and runs (every role that touches workflows)."""
    return [
        *_kv_read(n.workflow_defs_bucket, "workflow definitions"),
        *_kv_read(n.workflow_runs_bucket, "workflow runs", direct=False),
        _info(n.workflow_join_stream, "find the fan-in counters"),
        _info(n.workflow_events_stream, "find the run logs"),
        _info(f"OBJ_{n.workflow_objects_bucket}", "find the workflow output store"),
    ]


def _workflow_client(n: Names) -> list[Allow]:
    """Starting runs and advancing them (producer, worker)."""
    return [
        *_workflow_reader(n),
        _kv_write(n.workflow_defs_bucket, "workflow definitions (published once per version)"),
        _kv_write(n.workflow_runs_bucket, "workflow runs (compare-and-set)"),
        Allow(n.workflow_events(), "append to a run's log"),
    ]


# -- the roles ----------------------------------------------------------------------------------


def _provisioner(n: Names, qs: Sequence[str]) -> list[Allow]:
    buckets = [
        n.status_bucket,
        n.workers_bucket,
        n.schedules_bucket,
        n.catalog_bucket,
        n.cancel_bucket,
        n.locks_bucket,
        n.workflow_defs_bucket,
        n.workflow_runs_bucket,
    ]
    # Looked up before creating (the queue streams and the DLQ are created-or-updated in one request).
    looked_up = [
        n.advisory_stream,
        n.delayed_stream,
        n.rate_stream,
        n.workflow_join_stream,
        n.workflow_events_stream,
        *(f"KV_{b}" for b in buckets),
        f"OBJ_{n.workflow_objects_bucket}",
    ]
    allows = [_info(stream, "look up before creating") for stream in looked_up]
    for stream in [*(n.stream(q) for q in qs), n.dlq_stream, *looked_up]:
        allows.append(Allow(f"{_API}.STREAM.CREATE.{stream}", "create (queue streams, DLQ: create or update)"))
    for stream in [*(n.stream(q) for q in qs), n.dlq_stream, n.advisory_stream]:
        allows.append(Allow(f"{_API}.STREAM.UPDATE.{stream}", "apply changed settings (advisories: add a queue)"))
    for q in qs:
        for stream, consumer in _queue_consumers(n, q):
            allows.append(Allow(f"{_API}.CONSUMER.CREATE.{stream}.{consumer}.>", "create or update"))
    return allows


def _worker(n: Names, qs: Sequence[str]) -> list[Allow]:
    allows = [
        *_kv_read(n.status_bucket, "job status (first failure time of a retry)"),
        _kv_write(n.status_bucket, "job status and results"),
        _info(n.dlq_stream, "start-up: the dead-letter stream exists"),
        _info(n.advisory_stream, "start-up: the advisory stream lists the queue"),
        _info(n.delayed_stream, "start-up: the delayed-jobs stream exists"),
        _info(f"KV_{n.catalog_bucket}", "start-up: publish this worker's tasks to the catalog"),
        _kv_write(n.catalog_bucket, "the catalog entries of this worker's tasks"),
        _info(f"KV_{n.workers_bucket}", "presence: the workers bucket"),
        _kv_write(n.workers_bucket, "presence heartbeats"),
        _info(f"KV_{n.cancel_bucket}", "cancel requests: the bucket"),
        *_kv_watch(n.cancel_bucket, "cancel requests"),
        *_kv_read(n.locks_bucket, "unique-job keys", direct=False),
        _kv_write(n.locks_bucket, "unique jobs: take, renew and free keys"),
        _info(n.rate_stream, "cluster-wide rate limits: the counter stream"),
        Allow(f"{_API}.STREAM.PURGE.{n.delayed_stream}", "cancel a workflow run's timeout when it ends"),
        *_workflow_client(n),
        # Run ids may hold dots: every subject under the counters' root.
        Allow(n.workflow_join("RUN", "KEY").removesuffix("RUN.KEY") + ">", "fan-in counters (ADR-49 increments)"),
        Allow(f"{_API}.STREAM.PURGE.{n.workflow_join_stream}", "drop a finished run's counters"),
        *_objects_read(n),
        Allow(f"$O.{n.workflow_objects_bucket}.>", "store large step outputs"),
        Allow(n.workflow_cancel_subject, "tell other workers a run was cancelled"),
    ]
    for q in qs:
        stream = n.stream(q)
        allows += [
            _info(stream, f"start-up: queue {q} is provisioned"),
            Allow(f"{n.queue_subjects(q)[:-1]}*", f"enqueue into {q}: due delayed jobs, workflow steps"),
            Allow(n.rate_subject(q, 0).removesuffix("0") + "*", f"rate limit of {q}: count starts per window"),
            Allow(n.dlq_subject(q), f"dead letters of {q}"),
            Allow(f"$JS.ACK.{stream}.>", f"ack, nak, term, in-progress for {q}"),
            Allow(f"{_API}.DIRECT.GET.{stream}", f"dead-letter mover: read a job that ran out of deliveries ({q})"),
            Allow(f"{_API}.STREAM.MSG.DELETE.{stream}", f"dead-letter mover: remove that job from {q}"),
            Allow(f"$JS.ACK.{n.delayed_stream}.{n.forwarder_consumer(q)}.>", f"forwarder of {q}: ack"),
            Allow(f"$JS.ACK.{n.advisory_stream}.{n.mover_consumer(q)}.>", f"dead-letter mover of {q}: ack"),
        ]
        for stream_name, consumer in _queue_consumers(n, q):
            allows.append(Allow(f"{_API}.CONSUMER.INFO.{stream_name}.{consumer}", "start-up check, backlog metrics"))
            allows.append(Allow(f"{_API}.CONSUMER.MSG.NEXT.{stream_name}.{consumer}", "pull"))
    return allows


def _producer(n: Names, qs: Sequence[str]) -> list[Allow]:
    allows = [
        _info(n.delayed_stream, "delayed jobs: the stream exists"),
        *_kv_read(n.status_bucket, "job status"),
        *_kv_watch(n.status_bucket, "job status (result())"),
        _kv_write(n.status_bucket, "the first status record of a job"),
        *_kv_read(n.catalog_bucket, "the task catalog (route and check a task by name)"),
        *_kv_read(n.locks_bucket, "unique-job keys (the job holding a taken key)", direct=False),
        _kv_write(n.locks_bucket, "unique jobs: take the key before publishing"),
        Allow(f"{_API}.STREAM.PURGE.{n.delayed_stream}", "cancel a delayed job (and a workflow run's timeout)"),
        _info(f"KV_{n.cancel_bucket}", "cancel a queued or running job: the cancels bucket"),
        _kv_write(n.cancel_bucket, "cancel a queued or running job (its worker watches the bucket)"),
        *_workflow_client(n),
        *_kv_scan(n.workflow_defs_bucket, "workflow definitions (the latest version of a name)"),
        *_kv_watch(n.workflow_runs_bucket, "a workflow run (result())"),
        *_objects_read(n),
    ]
    for q in qs:
        allows += [
            _info(n.stream(q), f"queue {q} is provisioned"),
            Allow(f"{n.queue_subjects(q)[:-1]}*", f"enqueue into {q}"),
            Allow(n.delayed_at(q, ">"), f"delayed jobs of {q} (and workflow timeouts)"),
        ]
    return allows


def _scheduler(n: Names, qs: Sequence[str]) -> list[Allow]:
    allows = [
        *_kv_read(n.schedules_bucket, "schedules"),
        *_kv_scan(n.schedules_bucket, "schedules"),
        _kv_write(n.schedules_bucket, "schedule definitions and fire times"),
        _kv_write(n.status_bucket, "the first status record of a fired job"),
    ]
    for q in qs:
        allows += [
            _info(n.stream(q), f"queue {q} is provisioned"),
            Allow(f"{n.queue_subjects(q)[:-1]}*", f"fire schedules into {q}"),
        ]
    return allows


def _ui(n: Names, qs: Sequence[str]) -> list[Allow]:
    allows = [
        *_kv_read(n.status_bucket, "job status"),
        *_kv_watch(n.status_bucket, "job status"),
        _info(n.dlq_stream, "dead-letter counts"),
        Allow(f"{_API}.DIRECT.GET.{n.dlq_stream}", "read dead letters"),
        Allow(f"{_API}.STREAM.MSG.DELETE.{n.dlq_stream}", "delete a dead letter (and after a replay)"),
        *_kv_read(n.schedules_bucket, "schedules"),
        *_kv_scan(n.schedules_bucket, "schedules"),
        _info(f"KV_{n.workers_bucket}", "find the worker presence bucket"),
        *_kv_scan(n.workers_bucket, "live workers"),
        _kv_write(n.schedules_bucket, "pause and resume schedules"),
        Allow(f"{_API}.STREAM.LIST", "list the queues"),
        *_workflow_reader(n),
        *_kv_scan(n.workflow_runs_bucket, "workflow runs (the list of runs)"),
    ]
    for q in qs:
        allows += [
            _info(n.stream(q), f"queue {q}: counts"),
            Allow(f"{n.queue_subjects(q)[:-1]}*", f"replay dead letters into {q}"),
            _kv_write(n.status_bucket, "status of replayed jobs"),
        ]
        allows += [
            Allow(f"{_API}.CONSUMER.INFO.{n.stream(q)}.{n.consumer(q, p)}", f"queue {q}: backlog") for p in PRIORITIES
        ]
    return allows


_ROLES = {
    "provisioner": _provisioner,
    "worker": _worker,
    "producer": _producer,
    "scheduler": _scheduler,
    "ui": _ui,
}
