"""Counters on the server (ADR-49, nats-server 2.12+): the cluster-wide rate limit's windows.

A counter stream keeps one running total per subject; a publish with ``Nats-Incr: +n`` adds
``n`` on the stream's leader and the PubAck carries the new total (``"val": "42"``). One round
trip, no compare-and-set retries however many replicas count at once.
"""

from __future__ import annotations

import json
import re

from nats.js.api import RetentionPolicy, StorageType, StreamConfig

from ..errors import JetjobsError
from ._connection import Connection
from ._streams import ensure_stream

_INCR = "Nats-Incr"
_VAL_RE = re.compile(rb'"val":\s*"(-?\d+)"')
# Windows are short: a counter is only read in its own window, so a minute of history is plenty.
_MAX_AGE_S = 60.0


async def ensure_rate_stream(conn: Connection, *, replicas: int = 1) -> None:
    """The counter stream of rate windows (memory storage: a lost window only forgets its count)."""
    names = conn.names
    await ensure_stream(
        conn,
        StreamConfig(
            name=names.rate_stream,
            description="jetjobs cluster-wide rate limits: starts per queue and time window",
            subjects=[names.rate_subjects],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.MEMORY,
            num_replicas=replicas,
            max_age=_MAX_AGE_S,
            max_msgs_per_subject=1,
            allow_msg_counter=True,
            allow_direct=True,
        ),
        update=False,
    )


async def increment(conn: Connection, subject: str, by: int) -> int:
    """Add ``by`` to the counter of ``subject``; return the new total."""
    with conn.reaching():
        reply = await conn.acks.publish(subject, b"", {_INCR: f"+{by}"})
    match = _VAL_RE.search(reply)
    if match is None:
        ack = json.loads(reply)
        if "val" not in ack:
            raise JetjobsError(f"counter {subject}: the server answered without a value: {reply[:200]!r}")
        return int(ack["val"])
    return int(match[1])
