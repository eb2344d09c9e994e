"""The scheduler service: fires periodic schedules, safely with any number of replicas.

There is no leader. Every replica computes the same fire times and publishes
each fire with ``Nats-Msg-Id = <schedule>-<fire time in ms>``; JetStream's
duplicate window keeps one. Replicas share the last fire of each schedule
through the schedules bucket, so a replica that restarts (or a new one) knows
what was missed and applies the schedule's misfire policy.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from .. import transport
from .._status import decode_status
from .._wire import parse_iso, to_iso
from ..errors import JetjobsError
from ..telemetry import ServiceRuntime, metrics
from ._fire import fire_job_id, jitter_offset, next_fire, previous_fires, to_publish
from ._registry import DEF, STATE, Schedules, fire_request
from ._spec import ScheduleDefinition

if TYPE_CHECKING:
    from .._job import Job
    from .._link import Link
    from .._settings import Settings
    from .._task import JobRequest, Task

log = logging.getLogger("jetjobs.scheduler")

_IDLE_WAKE_S = 30.0


class SchedulerApp(Protocol):
    """What the scheduler service uses of the app it runs (``App`` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def tasks(self) -> Mapping[str, Task[..., Any]]: ...
    @property
    def link(self) -> Link: ...
    @property
    def schedules(self) -> Schedules: ...

    async def connect(self) -> None: ...
    async def close(self) -> None: ...
    async def enqueue_request(self, request: JobRequest) -> Job: ...


class Scheduler:
    """Fires the app's code schedules and every dynamic schedule of its namespace.

    Example::

        scheduler = Scheduler(app)
        await scheduler.run()     # until scheduler.request_stop()
    """

    def __init__(
        self, app: SchedulerApp, *, metrics_port: int | None = None, serve_http: bool = True, close_app: bool = True
    ) -> None:
        self.app = app
        self._close_app = close_app
        port = metrics_port if metrics_port is not None else app.settings.metrics_port
        port = port if serve_http else None
        self.runtime = ServiceRuntime(app, port=port, ready=lambda: self.ready)
        self.started = asyncio.Event()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._store: transport.KeyValueStore | None = None
        self._dynamic: dict[str, ScheduleDefinition] = {}
        self._paused: set[str] = set()
        self._last_fire: dict[str, datetime] = {}
        self._last_job: dict[str, str] = {}
        self._watch: asyncio.Task[None] | None = None
        self.fired = 0

    @property
    def ready(self) -> bool:
        return bool(self.app.link.connected and self.started.is_set())

    def request_stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        try:
            await self.start()
            await self._loop()
        finally:
            await self.shutdown()

    async def start(self) -> None:
        await self.app.connect()
        self._store = await self.app.schedules.bucket()
        await self.app.schedules.publish_code()
        for entry in await self._store.items():
            self._apply(entry)
        self._watch = asyncio.create_task(self._follow(), name="jetjobs-schedules-watch")
        await self.runtime.start()
        log.info(
            "scheduler of %s ready: %d code and %d dynamic schedules",
            self.app.name,
            len(self.app.schedules.code),
            len(self._dynamic),
        )
        self.started.set()

    async def shutdown(self) -> None:
        await self.runtime.stop()
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        if self._close_app:
            await self.app.close()

    # -- definitions and state, kept current by a watch of the bucket ------------------

    def _schedules(self) -> Iterable[ScheduleDefinition]:
        # Code schedules come from this process: a schedule removed from the code
        # stops firing even if a stale copy still sits in the bucket.
        yield from (d for d in self.app.schedules.code.values() if d.name not in self._paused)
        yield from (d for d in self._dynamic.values() if not d.paused)

    async def _follow(self) -> None:
        assert self._store is not None
        while True:
            try:
                async for entry in self._store.watch():
                    self._apply(entry)
                    self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # e.g. the server restarted under the watch
                if self.app.link.closed:
                    return  # the connection was closed for good: we are stopping
                log.warning("schedules watch failed (%s); watching again", exc)
                await asyncio.sleep(1)

    def _apply(self, entry: transport.Entry) -> None:
        if entry.key.startswith(DEF):
            name = entry.key[len(DEF) :]
            definition = ScheduleDefinition.model_validate_json(entry.value) if entry.value else None
            self._dynamic.pop(name, None)
            was_paused = name in self._paused
            self._paused.discard(name)
            if definition is None:
                return
            if definition.paused:
                self._paused.add(name)
            elif was_paused:
                # Fires that fell while paused are not "missed": resuming starts from now.
                self._last_fire[name] = datetime.now(UTC)
            if definition.source == "dynamic":
                self._dynamic[name] = definition
        elif entry.key.startswith(STATE) and entry.value:
            name = entry.key[len(STATE) :]
            state = json.loads(entry.value)
            if state.get("last_fire"):
                self._advance(name, parse_iso(state["last_fire"]), state.get("last_job_id"))

    def _advance(self, name: str, fire: datetime, job_id: str | None) -> None:
        if name not in self._last_fire or fire > self._last_fire[name]:
            self._last_fire[name] = fire
            if job_id:
                self._last_job[name] = job_id

    # -- firing ------------------------------------------------------------------

    async def _loop(self) -> None:
        while not self._stop.is_set():
            # Cleared before the ticks, not after: a stop or a schedule change that
            # comes while they publish must still cut the wait short.
            self._wake.clear()
            now = datetime.now(UTC)
            wake = now + timedelta(seconds=_IDLE_WAKE_S)
            for definition in list(self._schedules()):
                try:
                    wake = min(wake, await self._tick(definition, now))
                except Exception as exc:
                    log.warning("schedule %s: %s; trying again in 1s", definition.name, exc)
                    wake = min(wake, now + timedelta(seconds=1))
            delay = (wake - datetime.now(UTC)).total_seconds()
            if delay > 0:
                try:
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    async def _tick(self, definition: ScheduleDefinition, now: datetime) -> datetime:
        """Publish what is due for one schedule; return when it next needs attention."""
        name = definition.name
        # A schedule seen for the first time starts now: no backfill from the past.
        last = self._last_fire.setdefault(name, now - timedelta(microseconds=1))
        candidates = previous_fires(definition, now, last)
        due = [f for f in candidates if f + timedelta(seconds=jitter_offset(definition, f)) <= now]
        for fire in to_publish(definition, due, now):
            await self._fire(definition, fire)
        if due:
            await self._record(name, due[-1], next_fire(definition, now))
        waiting = [f for f in candidates if f not in due]
        upcoming = waiting[0] if waiting else next_fire(definition, now)
        return upcoming + timedelta(seconds=jitter_offset(definition, upcoming))

    async def _fire(self, definition: ScheduleDefinition, fire: datetime) -> None:
        name = definition.name
        if definition.exclusive and await self._previous_still_running(name):
            log.info("schedule %s: skipping the fire of %s, the previous run is not finished", name, to_iso(fire))
            return
        job_id = fire_job_id(name, fire)
        job = await self.app.enqueue_request(fire_request(definition, job_id, fire))
        self._last_job[name] = job_id
        if not job.duplicate:
            self.fired += 1
            metrics.schedule_fires.inc((name,))
        log.debug("schedule %s fired %s as job %s%s", name, to_iso(fire), job_id, " (dup)" if job.duplicate else "")

    async def _previous_still_running(self, name: str) -> bool:
        job_id = self._last_job.get(name)
        if job_id is None:
            return False
        data = await self.app.link.status_store.get(job_id)
        return data is not None and not decode_status(data).state.is_final

    async def _record(self, name: str, fire: datetime, upcoming: datetime) -> None:
        """Share the last (and next) fire with the other replicas; it only ever moves forward."""
        self._advance(name, fire, None)
        assert self._store is not None
        key = STATE + name
        record = {
            "last_fire": to_iso(fire),
            "next_fire": to_iso(upcoming),
            "last_job_id": self._last_job.get(name),
            "updated_at": to_iso(datetime.now(UTC)),
        }
        for _ in range(3):
            entry = await self._store.get(key)
            if entry is not None and entry.value is not None:
                stored = json.loads(entry.value).get("last_fire")
                if stored and parse_iso(stored) >= fire:
                    return
                if await self._store.update(key, json.dumps(record).encode(), entry.revision) is not None:
                    return
            elif await self._store.create(key, json.dumps(record).encode()) is not None:
                return
        raise JetjobsError(f"could not record the last fire of {name}")
