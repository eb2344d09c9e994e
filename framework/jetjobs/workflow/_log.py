"""The per-run event log: one JSON record per thing that happened, in order.

Records are deduplicated by a message id made of the run, the kind, the step and
the attempt, so the replay of an advance after a crash does not log twice what
it already logged (within the stream's duplicate window).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from .._wire import now_iso
from ..transport import WorkflowTransport

log = logging.getLogger("jetjobs.workflow")


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One line of a run's log."""

    at: str
    run_id: str
    kind: str
    step: str | None = None
    attempt: int | None = None
    message: str = ""

    def line(self) -> str:
        where = f" {self.step}" if self.step else ""
        attempt = f" (attempt {self.attempt})" if self.attempt else ""
        message = f": {self.message}" if self.message else ""
        return f"{self.at}  {self.kind}{where}{attempt}{message}"


class EventLog:
    def __init__(self, transport: WorkflowTransport) -> None:
        self._t = transport

    async def emit(
        self,
        run_id: str,
        kind: str,
        *,
        step: str | None = None,
        attempt: int | None = None,
        message: str = "",
        key: str | None = None,
    ) -> None:
        """Append a record; a failure to log never fails the run (the state is what counts)."""
        record: dict[str, Any] = {"at": now_iso(), "run_id": run_id, "kind": kind}
        if step is not None:
            record["step"] = step
        if attempt is not None:
            record["attempt"] = attempt
        if message:
            record["message"] = message[:2000]
        msg_id = f"{run_id}:{kind}:{step or ''}:{attempt or ''}:{key or ''}"
        try:
            await self._t.event(run_id, json.dumps(record, separators=(",", ":")).encode(), msg_id)
        except Exception as exc:
            log.warning("could not log %s of run %s: %s", kind, run_id, exc)

    async def read(self, run_id: str, *, follow: bool = False) -> AsyncGenerator[RunEvent, None]:
        async with contextlib.aclosing(self._t.events(run_id, follow=follow)) as records:
            async for data in records:
                yield _event(run_id, data)


def _event(run_id: str, data: bytes) -> RunEvent:
    raw = json.loads(data)
    return RunEvent(
        at=raw.get("at", ""),
        run_id=raw.get("run_id", run_id),
        kind=raw.get("kind", "?"),
        step=raw.get("step"),
        attempt=raw.get("attempt"),
        message=raw.get("message", ""),
    )
