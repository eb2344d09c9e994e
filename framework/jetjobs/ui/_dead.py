"""Dead letters for the UI: filtered, bounded listing, detail, and bulk actions on a filter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from .._app import App
from .._dead_letters import DeadLetterInfo
from .._wire import H_META_PREFIX, decode_body, to_iso
from ..errors import InvalidPayload
from ._config import UIConfig

_CHUNK = 200
_FIND_LIMIT = 2000
BULK_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class DeadFilter:
    queue: str = ""
    task: str = ""
    error: str = ""  # substring of the error type or message
    after: int = 0  # DLQ stream sequence cursor

    def matches(self, dead: DeadLetterInfo) -> bool:
        if self.task and dead.task != self.task:
            return False
        needle = self.error.lower()
        return not needle or needle in f"{dead.error_type}: {dead.error_message}".lower()

    @property
    def active(self) -> bool:
        return bool(self.queue or self.task or self.error)


async def iter_dead(app: App, flt: DeadFilter, budget: int) -> AsyncIterator[tuple[DeadLetterInfo, int]]:
    """Dead letters matching ``flt`` in storage order, reading at most ``budget`` of them.

    Yields (dead letter, last sequence read), so a caller that stops can resume there.
    """
    after, read = flt.after, 0
    while read < budget:
        chunk = await app.dead_letters.list(flt.queue or None, limit=min(_CHUNK, budget - read), after_seq=after)
        if not chunk:
            return
        for dead in chunk:
            read += 1
            after = dead.seq
            if flt.matches(dead):
                yield dead, after


def row(dead: DeadLetterInfo) -> dict[str, Any]:
    return {
        "seq": dead.seq,
        "queue": dead.queue,
        "task": dead.task,
        "job_id": dead.job_id,
        "reason": dead.reason,
        "error_type": dead.error_type,
        "error_message": dead.error_message,
        "attempts": dead.attempts,
        "last_failure_at": dead.last_failure_at,
        "stored_at": to_iso(dead.stored_at) if dead.stored_at else None,
    }


async def list_dead(app: App, cfg: UIConfig, flt: DeadFilter, limit: int) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    next_after = None
    async for dead, _ in iter_dead(app, flt, cfg.scan_budget):
        rows.append(row(dead))
        if len(rows) >= limit:
            next_after = dead.seq
            break
    return {
        "filter": {"queue": flt.queue, "task": flt.task, "error": flt.error, "after": flt.after},
        "dead_letters": rows,
        "next_after": next_after,
        "limit": limit,
    }


def dead_detail(cfg: UIConfig, dead: DeadLetterInfo) -> dict[str, Any]:
    try:
        args, kwargs = decode_body(dead.body)
        payload: dict[str, Any] | None = {"args": args, "kwargs": kwargs}
    except InvalidPayload:
        payload = {"raw": dead.body.decode(errors="replace")}
    metadata = {k[len(H_META_PREFIX) :]: v for k, v in dead.headers.items() if k.startswith(H_META_PREFIX)}
    return {
        **row(dead),
        "first_failure_at": dead.first_failure_at,
        "traceback": dead.traceback,
        "original_subject": dead.original_subject,
        "payload": cfg.show_payload(dead.task, payload) if payload is not None else None,
        "metadata": metadata,
    }


async def find_dead_letter(app: App, queue: str, job_id: str) -> DeadLetterInfo | None:
    """The newest dead letter of ``job_id`` among the first ``_FIND_LIMIT`` of its queue (bounded)."""
    found = None
    async for dead, _ in iter_dead(app, DeadFilter(queue=queue), _FIND_LIMIT):
        if dead.job_id == job_id:
            found = dead
    return found
