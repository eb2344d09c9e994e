"""``app.schedules``: schedules declared in code and those managed at runtime.

Definitions live in the schedules KV bucket (``def.<name>``) next to their
state (``state.<name>``: last fire, last job). Code schedules are written there
too, so operators can list and pause them; dynamic ones are added, paused,
resumed and removed at runtime and every scheduler replica picks them up.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .. import transport
from .._retry import LOST_DELIVERY_SLACK
from .._settings import QueueLookup
from .._task import Enqueue, EnqueueOptions, JobRequest, Task
from .._wire import H_RETRY_POLICY, parse_iso, to_iso
from ..errors import ConfigError, InvalidPayload, JetjobsError, JobNotFound
from ._fire import next_fire
from ._spec import ScheduleDefinition, build_definition

if TYPE_CHECKING:
    from .._job import Job
    from .._link import Link

DEF = "def."
STATE = "state."


@dataclass(frozen=True, slots=True)
class ScheduleInfo:
    """A schedule with its state, as ``jetjobs schedules list`` shows it."""

    definition: ScheduleDefinition
    last_fire: datetime | None
    last_job_id: str | None
    next_fire: datetime | None


class Schedules:
    """The schedules of an app's namespace.

    Example::

        async with app:
            await app.schedules.add("cleanup", "reports.cleanup", cron="0 3 * * *", queue="maintenance")
            await app.schedules.pause("cleanup")
            for info in await app.schedules.list():
                print(info.definition.name, info.next_fire)
    """

    def __init__(
        self, link: Link, tasks: Mapping[str, Task[..., Any]], queue_config: QueueLookup, enqueue: Enqueue
    ) -> None:
        self._link = link  # the bucket; the app's name owns its code schedules
        self._tasks = tasks
        self._queue_config = queue_config
        self._enqueue = enqueue
        self.code: dict[str, ScheduleDefinition] = {}

    # -- declarations in code --------------------------------------------------------

    def declare(
        self, task: str, *, name: str | None = None, args: Iterable[Any] = (), **fields: Any
    ) -> ScheduleDefinition:
        """Validate and keep a code schedule (raises ConfigError now, not at fire time)."""
        schedule_name = name or task
        if schedule_name in self.code:
            raise ConfigError(f"schedule {schedule_name!r} is declared twice in app {self._link.name!r}")
        definition = self.build(schedule_name, task, args=list(args), source="code", owner=self._link.name, **fields)
        self.code[schedule_name] = definition
        return definition

    def build(self, name: str, task: str, **fields: Any) -> ScheduleDefinition:
        """A validated definition; the queue and arguments are checked against the task if known."""
        registered = self._tasks.get(task)
        fields["kwargs"] = dict(fields.get("kwargs") or {})
        fields["args"] = list(fields.get("args") or [])
        if registered is not None:
            fields["queue"] = fields.get("queue") or registered.spec.queue
            try:
                fields["args"], fields["kwargs"] = registered.signature.encode_call(
                    tuple(fields["args"]), fields["kwargs"]
                )
            except InvalidPayload as exc:
                raise ConfigError(f"schedule {name!r}: {exc}") from None
        elif not fields.get("queue"):
            raise ConfigError(f"schedule {name!r}: task {task!r} is not registered here; give queue=...")
        self._check_fits_queue(name, fields)
        try:
            json.dumps([fields["args"], fields["kwargs"]])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"schedule {name!r}: arguments are not JSON: {exc}") from None
        return build_definition(name, task, **fields)

    def _check_fits_queue(self, name: str, fields: dict[str, Any]) -> None:
        """A priority or max_retries the queue cannot take fails now, not at every fire."""
        queue = self._queue_config(str(fields["queue"]))
        priority = fields.get("priority")
        if priority is not None and priority not in queue.priorities:
            raise ConfigError(f"schedule {name!r}: queue {fields['queue']!r} has no {priority!r} priority")
        retries = fields.get("max_retries")
        allowed = queue.max_deliveries - 1 - LOST_DELIVERY_SLACK
        if retries is not None and retries + 1 > allowed:
            raise ConfigError(f"schedule {name!r}: max_retries={retries} does not fit queue {fields['queue']!r}")

    def describe(self, now: datetime | None = None) -> dict[str, dict[str, Any]]:
        """Code schedules: name -> task, schedule, args, kwargs, queue, next fire."""
        moment = now or datetime.now(UTC)
        return {
            name: {
                "task": d.task,
                "schedule": d.describe(),
                "args": d.args,
                "kwargs": d.kwargs,
                "queue": d.queue,
                "next_fire": next_fire(d, moment),
            }
            for name, d in sorted(self.code.items())
        }

    # -- the bucket ----------------------------------------------------------------

    async def bucket(self) -> transport.KeyValueStore:
        conn = self._link.connection
        store = transport.KeyValueStore(conn, conn.names.schedules_bucket)
        replicas = self._link.settings.status_replicas
        await store.ensure(description="jetjobs schedules and their state", replicas=replicas)
        return store

    async def publish_code(self) -> None:
        """Write this app's code schedules to the bucket (keeping a pause set by an operator)
        and drop those it no longer declares."""
        store = await self.bucket()
        stored = {d.name: d for d in await self._definitions(store)}
        for name, definition in self.code.items():
            current = stored.get(name)
            if current is not None and current.source == "code" and current.owner != self._link.name:
                raise ConfigError(
                    f"schedule {name!r} is declared by app {current.owner!r} too; give one of them another name "
                    "(or remove the stale one with: jetjobs schedules remove --force)"
                )
            wanted = definition.model_copy(update={"paused": bool(current and current.paused)})
            if current != wanted:
                await store.put(DEF + name, wanted.model_dump_json().encode())
        for name, current in stored.items():
            if current.source == "code" and current.owner == self._link.name and name not in self.code:
                await store.delete(DEF + name)

    async def list(self) -> list[ScheduleInfo]:
        store = await self.bucket()
        now = datetime.now(UTC)
        infos = []
        definition: ScheduleDefinition
        for definition in sorted(await self._definitions(store), key=lambda d: d.name):
            state = await self.state(store, definition.name)
            last = parse_iso(state["last_fire"]) if state.get("last_fire") else None
            upcoming = None if definition.paused else next_fire(definition, max(now, last or now))
            infos.append(ScheduleInfo(definition, last, state.get("last_job_id"), upcoming))
        return infos

    async def get(self, name: str) -> ScheduleDefinition:
        entry = await (await self.bucket()).get(DEF + name)
        if entry is None or entry.value is None:
            raise JobNotFound(f"no schedule {name!r}")
        return ScheduleDefinition.model_validate_json(entry.value)

    async def add(
        self, name: str, task: str, *, replace: bool = False, args: Iterable[Any] = (), **fields: Any
    ) -> ScheduleDefinition:
        """Add a dynamic schedule; every scheduler replica starts firing it without a restart."""
        definition = self.build(name, task, args=list(args), source="dynamic", **fields)
        store = await self.bucket()
        data = definition.model_dump_json().encode()
        if replace:
            current = await store.get(DEF + name)
            if current is not None and current.value is not None:
                self._refuse_code(ScheduleDefinition.model_validate_json(current.value), "replace")
            await store.put(DEF + name, data)
        elif await store.create(DEF + name, data) is None:
            raise ConfigError(f"schedule {name!r} exists; remove it first or replace it (replace=True, --replace)")
        return definition

    async def pause(self, name: str) -> ScheduleDefinition:
        return await self._set_paused(name, True)

    async def resume(self, name: str) -> ScheduleDefinition:
        return await self._set_paused(name, False)

    async def remove(self, name: str, *, force: bool = False) -> None:
        """Delete a dynamic schedule; ``force`` also deletes a code schedule whose app retired it
        (if the app still declares it, its scheduler writes it back at its next start)."""
        store = await self.bucket()
        if not force:
            self._refuse_code(await self.get(name), "remove")
        await store.delete(DEF + name)
        await store.delete(STATE + name)

    async def run_now(self, name: str) -> Job:
        """Enqueue one job of the schedule right away (besides its regular fires)."""
        definition = await self.get(name)
        stamp = round(datetime.now(UTC).timestamp() * 1000)
        return await self._enqueue(fire_request(definition, f"{name}-manual-{stamp}", None))

    async def state(self, store: transport.KeyValueStore, name: str) -> dict[str, Any]:
        entry = await store.get(STATE + name)
        return dict(json.loads(entry.value)) if entry is not None and entry.value is not None else {}

    async def _set_paused(self, name: str, paused: bool) -> ScheduleDefinition:
        store = await self.bucket()
        for _ in range(5):  # compare-and-set: another operator may edit at the same time
            entry = await store.get(DEF + name)
            if entry is None or entry.value is None:
                raise JobNotFound(f"no schedule {name!r}")
            updated = ScheduleDefinition.model_validate_json(entry.value).model_copy(update={"paused": paused})
            if await store.update(DEF + name, updated.model_dump_json().encode(), entry.revision) is not None:
                return updated
        raise JetjobsError(f"schedule {name!r} kept changing; try again")

    async def _definitions(self, store: transport.KeyValueStore) -> builtins.list[ScheduleDefinition]:
        return [ScheduleDefinition.model_validate_json(e.value) for e in await store.items(DEF) if e.value is not None]

    @staticmethod
    def _refuse_code(definition: ScheduleDefinition, action: str) -> None:
        if definition.source == "code":
            raise ConfigError(
                f"schedule {definition.name!r} is declared in the code of {definition.owner!r}; "
                f"change it there (you can pause it here)"
            )


def fire_request(definition: ScheduleDefinition, job_id: str, fire: datetime | None) -> JobRequest:
    """The job one fire of ``definition`` enqueues."""
    metadata: Mapping[str, str] = {"schedule": definition.name}
    if fire is not None:
        metadata = {**metadata, "fire-time": to_iso(fire)}
    return JobRequest(
        definition.task,
        tuple(definition.args),
        dict(definition.kwargs),
        EnqueueOptions(
            queue=definition.queue,
            priority=definition.priority,
            job_id=job_id,
            timeout_s=definition.timeout_s,
            max_retries=definition.max_retries,
            metadata=metadata,
            headers={H_RETRY_POLICY: definition.retry_policy} if definition.retry_policy else None,
        ),
    )
