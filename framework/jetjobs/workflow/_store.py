"""Run state in the runs bucket: typed reads, creates and compare-and-set writes.

Keys: ``<run>.meta`` (RunRecord), ``<run>.st.<step>`` (StepRecord),
``<run>.trig.<step>`` (create-once marker: the step was enqueued). Definitions
live in their own bucket under ``<name>.<version token>``.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .._wire import now_iso
from ..errors import InvalidPayload, JetjobsError
from ..transport import WorkflowTransport
from ._errors import WorkflowDefinitionError
from ._model import WorkflowDef
from ._names import version_token
from ._state import RunRecord, StepRecord

_CAS_ATTEMPTS = 50
_INPUTS_KEPT = 1024


@dataclass(frozen=True, slots=True)
class Versioned:
    """A record with the revision it was read at (for compare-and-set)."""

    revision: int


@dataclass(frozen=True, slots=True)
class MetaAt(Versioned):
    record: RunRecord


@dataclass(frozen=True, slots=True)
class StepAt(Versioned):
    record: StepRecord


class RunStore:
    def __init__(self, transport: WorkflowTransport) -> None:
        self.t = transport
        self._defs: dict[tuple[str, str], WorkflowDef] = {}
        self._loading: dict[tuple[str, str], asyncio.Future[WorkflowDef]] = {}
        self._inputs: OrderedDict[str, tuple[Any, Any]] = OrderedDict()
        self._input_loads: dict[str, asyncio.Future[tuple[Any, Any]]] = {}

    # -- definitions ------------------------------------------------------------

    async def publish_definition(self, definition: WorkflowDef) -> None:
        """Store a definition once; the same (name, version) with other content is refused."""
        key = f"{definition.name}.{version_token(definition.version)}"
        data = json.dumps(definition.to_json(), sort_keys=True, separators=(",", ":")).encode()
        if await self.t.defs.create(key, data) is None:
            stored = await self.definition(definition.name, definition.version)
            if stored.def_hash != definition.def_hash:
                raise WorkflowDefinitionError(
                    f"workflow {definition.name!r} version {definition.version!r} is already registered with a "
                    "different definition; definitions are immutable, give this one a new version"
                )
        self._defs[(definition.name, definition.version)] = definition

    async def definition(self, name: str, version: str) -> WorkflowDef:
        """A definition by (name, version), from the server once, then from memory (immutable).

        Concurrent first reads share one load: 64 steps starting together would otherwise
        each fetch and validate a large definition.
        """
        key = (name, version)
        cached = self._defs.get(key)
        if cached is not None:
            return cached
        loading = self._loading.get(key)
        if loading is None:
            loading = self._loading[key] = asyncio.ensure_future(self._load(name, version))
            loading.add_done_callback(lambda _: self._loading.pop(key, None))
        return await asyncio.shield(loading)

    async def _load(self, name: str, version: str) -> WorkflowDef:
        entry = await self.t.defs.get(f"{name}.{version_token(version)}")
        if entry is None or entry.value is None:
            raise JetjobsError(f"workflow {name!r} version {version!r} is not registered on the server")
        definition = WorkflowDef.from_json(json.loads(entry.value))
        self._defs[(name, version)] = definition
        return definition

    async def latest_version(self, name: str) -> str | None:
        """The most recently registered version of ``name`` on the server."""
        entries = await self.t.defs.items(f"{name}.")
        if not entries:
            return None
        newest = max(entries, key=lambda e: e.revision)
        assert newest.value is not None
        return str(json.loads(newest.value)["version"])

    # -- run records ----------------------------------------------------------------

    async def meta(self, run_id: str) -> MetaAt | None:
        entry = await self.t.runs.get(f"{run_id}.meta")
        if entry is None or entry.value is None:
            return None
        return MetaAt(entry.revision, RunRecord.decode(entry.value))

    async def create_meta(self, record: RunRecord) -> bool:
        """Store the run's input (once), then its record; False when the run id exists."""
        try:
            data = record.encode_input()
        except (TypeError, ValueError) as exc:
            raise InvalidPayload(f"workflow run {record.run_id}: input and context must be JSON: {exc}") from None
        await self.t.runs.create(f"{record.run_id}.input", data)  # None: a retried start, already there
        return await self.t.runs.create(f"{record.run_id}.meta", record.encode()) is not None

    async def run_input(self, run_id: str) -> tuple[Any, Any]:
        """A run's (input, context): immutable, so kept in memory after the first read."""
        cached = self._inputs.get(run_id)
        if cached is not None:
            self._inputs.move_to_end(run_id)
            return cached
        loading = self._input_loads.get(run_id)
        if loading is None:  # one read for the steps that start together
            loading = self._input_loads[run_id] = asyncio.ensure_future(self._load_input(run_id))
            loading.add_done_callback(lambda _: self._input_loads.pop(run_id, None))
        return await asyncio.shield(loading)

    async def _load_input(self, run_id: str) -> tuple[Any, Any]:
        entry = await self.t.runs.get(f"{run_id}.input")
        raw = json.loads(entry.value) if entry is not None and entry.value else {}
        found = (raw.get("input"), raw.get("context"))
        self._inputs[run_id] = found
        if len(self._inputs) > _INPUTS_KEPT:
            self._inputs.popitem(last=False)
        return found

    async def update_meta(self, at: MetaAt, record: RunRecord) -> bool:
        record = record.evolve(updated_at=now_iso())
        return await self.t.runs.update(f"{record.run_id}.meta", record.encode(), at.revision) is not None

    async def step(self, run_id: str, step: str) -> StepAt | None:
        entry = await self.t.runs.get(f"{run_id}.st.{step}")
        if entry is None or entry.value is None:
            return None
        return StepAt(entry.revision, StepRecord.decode(entry.value))

    async def write_step(self, run_id: str, step: str, at: StepAt | None, record: StepRecord) -> bool:
        """Create (``at`` None) or compare-and-set a step record; False on a conflict."""
        key = f"{run_id}.st.{step}"
        if at is None:
            return await self.t.runs.create(key, record.encode()) is not None
        return await self.t.runs.update(key, record.encode(), at.revision) is not None

    async def write_step_revision(self, run_id: str, step: str, at: StepAt | None, record: StepRecord) -> int | None:
        """As ``write_step``, returning the new revision (None on a conflict)."""
        key = f"{run_id}.st.{step}"
        if at is None:
            return await self.t.runs.create(key, record.encode())
        return await self.t.runs.update(key, record.encode(), at.revision)

    async def mutate_step(
        self, run_id: str, step: str, change: Callable[[StepRecord | None], StepRecord | None]
    ) -> StepRecord | None:
        """Read-modify-CAS until it sticks; ``change`` returns None to leave the record as it is."""
        for _ in range(_CAS_ATTEMPTS):
            at = await self.step(run_id, step)
            new = change(at.record if at else None)
            if new is None:
                return at.record if at else None
            if await self.write_step(run_id, step, at, new):
                return new
        raise JetjobsError(f"step {step} of run {run_id}: too many concurrent updates")

    async def mark_triggered(self, run_id: str, step: str) -> bool:
        """True for the one caller that triggers the step (create-once marker)."""
        data = json.dumps({"at": now_iso()}).encode()
        return await self.t.runs.create(f"{run_id}.trig.{step}", data) is not None

    async def run_keys(self, run_id: str, steps: Iterable[str]) -> dict[str, bytes]:
        """The step records and trigger markers of ``steps`` (leader reads, in parallel).

        Read key by key rather than with a watch over ``<run>.>``: an ordered consumer
        can report "no more values" before it delivered them on a busy server.
        """
        keys = [f"{run_id}.{kind}.{step}" for step in steps for kind in ("st", "trig")]
        gate = asyncio.Semaphore(128)

        async def one(key: str) -> tuple[str, bytes | None]:
            async with gate:
                entry = await self.t.runs.get(key)
            return key, entry.value if entry is not None else None

        found = await asyncio.gather(*(one(k) for k in keys))
        return {key: value for key, value in found if value is not None}
