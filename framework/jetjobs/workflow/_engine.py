"""The workflow engine: no coordinator, no leader.

The worker that settles a step advances its run *before* it acknowledges the
step's message, and every write on the way is idempotent or guarded (KV create,
compare-and-set, counters deduplicated by message id), so a crash anywhere is
repaired by the redelivery replaying the same path:

    step succeeded → output + state (CAS) → per child: join counter (fan-in) →
    create-once trigger marker → publish the child job (msg id = its job id) →
    sinks counter → run record CAS (the one linearization point) → ack

Fan-in uses a JetStream counter per child (ADR-49): each parent adds one, once
(msg id), and the parent that sees the count reach the number of parents
confirms with leader reads of their states before triggering; a CAS on one key
would collapse under wide fan-in (research: 25 conflicts per parent at width 200).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from .._task import EnqueueOptions, JobRequest
from .._wire import H_RETRY_POLICY, H_WORKFLOW, H_WORKFLOW_RUN, H_WORKFLOW_STEP, now_iso, parse_iso, to_iso
from ..errors import ConfigError, OutputTooLarge
from ._errors import TemplateError
from ._faults import fault
from ._frozen import thaw
from ._log import EventLog
from ._model import StepDef, WorkflowDef
from ._state import RunRecord, RunState, StepError, StepRecord, StepState, gate, run_transition
from ._store import MetaAt, RunStore, StepAt
from ._template import render, template_refs

log = logging.getLogger("jetjobs.workflow")

H_RUN = H_WORKFLOW_RUN
H_STEP = H_WORKFLOW_STEP
TIMEOUT_TASK = "jetjobs.workflow.timeout"
START_TASK = "jetjobs.workflow.start"
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

Enqueue = Callable[[JobRequest], Awaitable[Any]]
CancelDelayed = Callable[[str, str], Awaitable[bool]]


def step_job_id(run_id: str, step: str) -> str:
    return f"{run_id}.{step}"


class Engine:
    def __init__(
        self,
        store: RunStore,
        *,
        enqueue: Enqueue,
        cancel_delayed: CancelDelayed,
        inline_output_bytes: int,
        max_output_bytes: int,
        on_run_end: Callable[[RunRecord], None] | None = None,
    ) -> None:
        self._on_run_end = on_run_end
        self.store = store
        self.events = EventLog(store.t)
        self._enqueue = enqueue
        self._cancel_delayed = cancel_delayed
        self._inline = inline_output_bytes
        self._max_output = max_output_bytes
        # What this process fenced, for the completion's compare-and-set (and the run record
        # read at the fence: whether the run still runs is decided by the fence and the CAS).
        self._fenced: dict[tuple[str, str], tuple[StepAt, RunRecord]] = {}

    # -- starting a run -------------------------------------------------------------

    async def start(
        self,
        definition: WorkflowDef,
        input: Any,
        *,
        context: Any,
        run_id: str,
        trace: Mapping[str, str],
        parent: tuple[str, str] | None = None,
    ) -> RunRecord:
        """Store the run record (the run id is the idempotency key), arm the timeout, enqueue the roots.

        Starting an existing run id again returns that run, and repairs a start that crashed half-way.
        """
        if not _RUN_ID_RE.fullmatch(run_id):
            raise ConfigError(f"invalid run_id {run_id!r}: use 1-128 letters, digits, '_' or '-'")
        await self.store.publish_definition(definition)
        now = now_iso()
        timeout_job = deadline = None
        if definition.timeout_s:
            timeout_job = (definition.step(definition.roots()[0]).queue or "", f"{run_id}._timeout")
            deadline = to_iso(datetime.now(UTC) + timedelta(seconds=definition.timeout_s))
        record = RunRecord(
            run_id=run_id,
            name=definition.name,
            version=definition.version,
            def_hash=definition.def_hash,
            state=RunState.RUNNING,
            input=input if input is not None else {},
            context=context if context is not None else {},
            started_at=now,
            updated_at=now,
            deadline=deadline,
            timeout_job=timeout_job,
            trace=dict(trace),
            parent=parent,
        )
        if not await self.store.create_meta(record):
            existing = await self.store.meta(run_id)
            if existing is None or existing.record.name != definition.name:
                raise ConfigError(f"run id {run_id!r} is already used by another workflow run")
            record = existing.record
            if record.state != RunState.RUNNING:
                return record
        else:
            fault("start.after_meta")
            await self.events.emit(run_id, "run_started", message=f"{definition.name} v{definition.version}")
        if record.timeout_job is not None and record.deadline is not None:
            # At the run's own deadline (a retried start must not push it back); a native
            # message schedule on the server, so no process has to stay alive for it.
            queue, job_id = record.timeout_job
            options = EnqueueOptions(job_id=job_id, queue=queue, eta=parse_iso(record.deadline))
            await self._enqueue(JobRequest(TIMEOUT_TASK, (), {"run_id": run_id}, options))
        defn = await self.store.definition(record.name, record.version)
        await self.trigger_all(record, defn, defn.roots())
        return record

    # -- the start fence ------------------------------------------------------------

    async def before(
        self, run_id: str, step: str, *, seq: int, attempt: int, queue: str, replay: bool = False
    ) -> bool | StepError:
        """True when this delivery should run the step's task; False to ack it unrun.

        A StepError: this very message failed the step, but its worker died before it
        stored the dead letter; the failure is replayed and the error handed back.
        """
        meta, first = await asyncio.gather(self.store.meta(run_id), self.store.step(run_id, step))
        if meta is None:
            log.warning("step %s of unknown or expired run %s: not run", step, run_id)
            return False
        defn = await self.store.definition(meta.record.name, meta.record.version)
        compensation = _is_compensation(step)
        for attempt_no in range(10):
            at = first if attempt_no == 0 else await self.store.step(run_id, step)
            current = at.record if at else None
            decision = gate(
                meta.record.state,
                current.state if current else None,
                same_delivery=current is not None and current.seq == seq,
                compensation=compensation,
            )
            if decision == "skip" and _failed_by(current, seq):
                assert current is not None
                assert current.error is not None
                await self._replay_failure(meta.record, defn, step, current.error)
                return current.error
            if decision == "skip":
                if replay:
                    log.warning(
                        "replayed dead letter of step %s of run %s ignored: the step is %s and the run %s; "
                        "a replay does not resume a workflow run (start a new run)",
                        step,
                        run_id,
                        current.state if current else "?",
                        meta.record.state,
                    )
                    await self.events.emit(run_id, "step_replay_ignored", step=step, key=f"replay-{seq}")
                else:
                    await self.events.emit(run_id, "step_duplicate", step=step, attempt=attempt, key=f"dup-{seq}")
                return False
            if decision == "advance":
                assert current is not None
                await self._propagate(meta.record, defn, step, succeeded=True)
                return False
            if decision == "cancel":
                await self.store.mutate_step(run_id, step, _cancelled)
                await self.events.emit(run_id, "step_cancelled", step=step, message=f"run is {meta.record.state}")
                return False
            spec = _step_def(defn, step)
            new = StepRecord(
                state=StepState.RUNNING,
                task=spec.task,
                job_id=step_job_id(run_id, step),
                attempt=attempt,
                seq=seq,
                queue=queue,
                started_at=(current.started_at if current else None) or now_iso(),  # the first attempt's
                history=current.history if current else (),
            )
            revision = await self.store.write_step_revision(run_id, step, at, new)
            if revision is not None:
                self._fenced[(run_id, step)] = (StepAt(revision, new), meta.record)
                fault("step.after_fence")
                await self.events.emit(run_id, "step_started", step=step, attempt=attempt)
                return True
        raise RuntimeError(f"step {step} of run {run_id}: the start fence kept conflicting")

    # -- completion ---------------------------------------------------------------------

    async def succeeded(self, run_id: str, step: str, result: bytes) -> OutputTooLarge | None:
        """Store the output, mark the step succeeded, advance the run. An OutputTooLarge is returned
        (the step then fails for good, no retry loop)."""
        if len(result) > self._max_output:
            return OutputTooLarge(
                f"step {step!r} returned {len(result)} bytes; the limit is {self._max_output} "
                "(workflow_max_output_bytes): return a reference to large data instead"
            )
        output: Any = None
        ref: dict[str, Any] | None = None
        if len(result) > self._inline:
            name = f"{run_id}/{step}"
            await self.store.t.put_object(name, result)
            ref = {"object": name, "size": len(result), "sha256": hashlib.sha256(result).hexdigest()}
        else:
            output = json.loads(result)
        now = now_iso()

        def done(current: StepRecord | None) -> StepRecord | None:
            if current is not None and current.state == StepState.SUCCEEDED:
                return None  # a replay: already stored
            base = current or StepRecord(StepState.RUNNING, "", step_job_id(run_id, step))
            return base.evolve(state=StepState.SUCCEEDED, finished_at=now, output=output, output_ref=ref, error=None)

        fenced = self._fenced.pop((run_id, step), None)
        written = False
        if fenced is not None:  # one compare-and-set at the revision this worker fenced
            new = done(fenced[0].record)
            written = new is not None and await self.store.write_step(run_id, step, fenced[0], new)
        if not written:
            await self.store.mutate_step(run_id, step, done)
        fault("advance.after_output")
        await self.events.emit(run_id, "step_succeeded", step=step)
        meta_record = fenced[1] if fenced is not None else None
        if meta_record is None:
            meta = await self.store.meta(run_id)
            meta_record = meta.record if meta is not None else None
        if meta_record is not None:
            defn = await self.store.definition(meta_record.name, meta_record.version)
            await self._propagate(meta_record, defn, step, succeeded=True)
        fault("advance.before_ack")
        return None

    async def retrying(self, run_id: str, step: str, attempt: int, error: StepError, delay_s: float) -> None:
        self._fenced.pop((run_id, step), None)

        def retry(current: StepRecord | None) -> StepRecord | None:
            if current is None or current.state.terminal:
                return None
            entry = {"attempt": attempt, "type": error.type, "message": error.message, "at": now_iso()}
            return current.evolve(state=StepState.RETRYING, error=error, history=(*current.history, entry)[-20:])

        await self.store.mutate_step(run_id, step, retry)
        await self.events.emit(
            run_id,
            "step_retrying",
            step=step,
            attempt=attempt,
            message=f"{error.type}: {error.message}; next attempt in {delay_s:.1f}s",
        )

    async def failed(self, run_id: str, step: str, attempt: int, error: StepError) -> None:
        """A step failed for good: store it, then fail the run (or hand the failure to its children)."""
        self._fenced.pop((run_id, step), None)
        now = now_iso()

        def fail(current: StepRecord | None) -> StepRecord | None:
            if current is not None and current.state.terminal:
                return None
            base = current or StepRecord(StepState.QUEUED, "", step_job_id(run_id, step))
            return base.evolve(state=StepState.FAILED, finished_at=now, error=error, attempt=max(attempt, 1))

        await self.store.mutate_step(run_id, step, fail)
        fault("fail.after_step")
        await self.events.emit(
            run_id, "step_failed", step=step, attempt=attempt, message=f"{error.type}: {error.message}"
        )
        meta = await self.store.meta(run_id)
        if meta is None:
            return
        defn = await self.store.definition(meta.record.name, meta.record.version)
        await self._replay_failure(meta.record, defn, step, error)

    async def _replay_failure(self, meta: RunRecord, defn: WorkflowDef, step: str, error: StepError) -> None:
        if _is_compensation(step):
            await self.finish(meta.run_id, "compensation_failed", step=step, error=error)
        else:
            await self._propagate(meta, defn, step, succeeded=False, error=error)

    async def cancelled(self, run_id: str, step: str) -> None:
        """A running step was stopped because its run was cancelled or timed out."""
        self._fenced.pop((run_id, step), None)
        await self.store.mutate_step(run_id, step, _cancelled)
        await self.events.emit(run_id, "step_cancelled", step=step, message="its run ended while it ran")

    # -- advancing ----------------------------------------------------------------------

    async def _propagate(
        self, meta: RunRecord, defn: WorkflowDef, step: str, *, succeeded: bool, error: StepError | None = None
    ) -> None:
        run_id = meta.run_id
        if _is_compensation(step):
            if succeeded:
                await self._next_compensation(meta, defn, step)
            return
        children = defn.children(step)
        if succeeded:
            await _bounded(self._parent_done(meta, defn, c, step, ok=True) for c in children)
            if not children:
                await self._sink_done(meta, defn, step)
            return
        absorbed = bool(children)
        for child in children:
            rule = defn.step(child).trigger
            if rule == "all_done":
                await self._parent_done(meta, defn, child, step, ok=False)
            elif rule == "one_success":
                if not await self._one_success_still_possible(meta, defn, child, step):
                    absorbed = False
            else:
                absorbed = False
        if not absorbed:
            await self.finish(run_id, "step_failed", step=step, error=error)

    async def _parent_done(self, meta: RunRecord, defn: WorkflowDef, child: str, parent: str, *, ok: bool) -> None:
        spec = defn.step(child)
        parents = defn.parents(child)
        if spec.trigger == "one_success":
            if ok:
                await self.trigger(meta, defn, child)
            return
        if len(parents) > 1:
            count = await self.store.t.increment(meta.run_id, f"j-{child}", f"{meta.run_id}:{child}:{parent}")
            fault("advance.after_count")
            if count < len(parents):
                return
            # A candidate: confirm with leader reads (a late duplicate increment past the
            # dedupe window can then only cost a check, never an early trigger).
            states = await self._states(meta.run_id, parents)
            wanted = {StepState.SUCCEEDED} if spec.trigger == "all_success" else {StepState.SUCCEEDED, StepState.FAILED}
            if not all(s in wanted for s in states):
                return
        await self.trigger(meta, defn, child)

    async def _one_success_still_possible(self, meta: RunRecord, defn: WorkflowDef, child: str, parent: str) -> bool:
        parents = defn.parents(child)
        count = await self.store.t.increment(meta.run_id, f"f-{child}", f"{meta.run_id}:{child}:{parent}")
        if count < len(parents):
            return True
        states = await self._states(meta.run_id, parents)
        return not all(s == StepState.FAILED for s in states)

    async def _states(self, run_id: str, steps: tuple[str, ...] | list[str]) -> list[StepState | None]:
        found = await _gather_bounded(self.store.step(run_id, s) for s in steps)
        return [f.record.state if f else None for f in found]

    async def _sink_done(self, meta: RunRecord, defn: WorkflowDef, sink: str) -> None:
        sinks = defn.sinks()
        if len(sinks) > 1:
            count = await self.store.t.increment(meta.run_id, "end", f"{meta.run_id}:end:{sink}")
            if count < len(sinks):
                return
            if not all(s == StepState.SUCCEEDED for s in await self._states(meta.run_id, sinks)):
                return
        await self.finish(meta.run_id, "sinks_done")

    async def trigger_all(self, meta: RunRecord, defn: WorkflowDef, steps: Iterable[str]) -> None:
        await _bounded(self.trigger(meta, defn, s) for s in steps)

    async def trigger(self, meta: RunRecord, defn: WorkflowDef, step: str) -> None:
        """Enqueue ``step`` once for this run, whoever else tries at the same moment."""
        if meta.state != (RunState.COMPENSATING if _is_compensation(step) else RunState.RUNNING):
            return  # the run ended (the fence would stop the step anyway)
        # Marked but never started: the triggering worker may have died before
        # publishing. Publishing again is safe: same job id, deduplicated.
        if not await self.store.mark_triggered(meta.run_id, step) and await self.store.step(meta.run_id, step):
            return  # enqueued and started: nothing to repair
        fault("advance.after_trigger")
        spec = _step_def(defn, step)
        try:
            args, kwargs = await self._inputs(meta, defn, spec)
        except TemplateError as exc:
            await self.failed(meta.run_id, step, 0, StepError("jetjobs.workflow.TemplateError", str(exc)))
            return
        headers = {**meta.trace, H_RUN: meta.run_id, H_STEP: step, H_WORKFLOW: f"{meta.name}/{meta.version}"}
        retry = spec.retry
        options = EnqueueOptions(
            job_id=step_job_id(meta.run_id, step),
            queue=spec.queue,
            priority=spec.priority,
            timeout_s=spec.timeout_s,
            max_retries=retry.max_attempts - 1 if retry is not None else None,
            headers={**headers, **_retry_header(spec)},
        )
        await self._enqueue(JobRequest(spec.task, tuple(args), kwargs, options))
        await self.events.emit(meta.run_id, "step_queued", step=step)

    async def _inputs(self, meta: RunRecord, defn: WorkflowDef, spec: StepDef) -> tuple[list[Any], dict[str, Any]]:
        raw_args, raw_input = thaw(spec.args), thaw(spec.input)
        all_refs = template_refs([raw_args, raw_input])
        if not all_refs:
            return list(raw_args), dict(raw_input)  # nothing to look up
        refs = {r[1] for r in all_refs if r[0] == "tasks" and len(r) > 1}
        tasks: dict[str, Any] = dict(await _gather_bounded(self._scope_of(meta.run_id, n) for n in sorted(refs)))
        run_input, run_context = (None, None)
        if any(r[0] != "tasks" for r in all_refs):
            run_input, run_context = await self.store.run_input(meta.run_id)
        scope = {"input": run_input, "context": run_context, "tasks": tasks}
        args = render(list(raw_args), scope, step=spec.name, path="args")
        kwargs = render(dict(raw_input), scope, step=spec.name, path="input")
        return list(args), dict(kwargs)

    async def run_result(self, meta: RunRecord, defn: WorkflowDef) -> Any:
        """What a succeeded run returns: its definition's ``result`` template rendered, else the
        output of its last step (a dict by step name when it ends in several)."""
        if defn.result is not None:
            value = thaw(defn.result)
            refs = {r[1] for r in template_refs(value) if r[0] == "tasks" and len(r) > 1}
            tasks = dict(await _gather_bounded(self._scope_of(meta.run_id, n) for n in sorted(refs)))
            run_input, run_context = await self.store.run_input(meta.run_id)
            return render(value, {"input": run_input, "context": run_context, "tasks": tasks}, path="result")
        sinks = defn.sinks()
        found = await asyncio.gather(*(self._scope_of(meta.run_id, s) for s in sinks))
        outputs = {name: scope.get("output") for name, scope in found}
        return outputs[sinks[0]] if len(sinks) == 1 else outputs

    async def _scope_of(self, run_id: str, name: str) -> tuple[str, dict[str, Any]]:
        """What templates can read of step ``name``: output (when it succeeded), result, error."""
        at = await self.store.step(run_id, name)
        record = at.record if at else None
        if record is not None and record.state == StepState.SUCCEEDED:
            output = await self.output_of(record)
            return name, {"output": output, "result": output, "error": None}
        error = {"type": record.error.type, "message": record.error.message} if record and record.error else None
        return name, {"result": {"error": error}, "error": error}

    async def output_of(self, record: StepRecord) -> Any:
        if record.output_ref is None:
            return record.output
        return json.loads(await self.store.t.get_object(record.output_ref["object"]))

    # -- run outcome ----------------------------------------------------------------------

    async def finish(
        self, run_id: str, event: str, *, step: str | None = None, error: StepError | None = None
    ) -> RunRecord | None:
        """Apply a run event with compare-and-set; the one writer that wins carries out its effects."""
        for _ in range(50):
            at = await self.store.meta(run_id)
            if at is None:
                return None
            defn = await self.store.definition(at.record.name, at.record.version)
            order = await self._compensation_order(at.record, defn) if event in ("step_failed", "timeout") else ()
            new_state = run_transition(at.record.state, event, compensable=bool(order))  # type: ignore[arg-type]
            if new_state is None:
                if at.record.state.terminal and at.record.parent is not None:
                    await self._complete_parent(at.record, defn)  # a replay: the parent may not know yet
                if at.record.state == RunState.COMPENSATING and event == "step_failed" and at.record.compensation:
                    # A replay after a crash between "compensating" and its first enqueue: repair it.
                    await self._log_compensating(at.record)
                    await self.trigger(at.record, defn, _compensation_step(at.record.compensation[0]))
                return None
            record = _outcome_record(at.record, new_state, event, step, error, order)
            if await self.store.update_meta(at, record):
                await self._after_transition(at, record, defn)
                return record
        raise RuntimeError(f"run {run_id}: too many concurrent state changes")

    async def _after_transition(self, before: MetaAt, record: RunRecord, defn: WorkflowDef) -> None:
        run_id = record.run_id
        if record.state == RunState.COMPENSATING:
            await self._log_compensating(record)
            fault("compensate.after_state")
            await self.store.t.broadcast_cancel(run_id)
            await self.trigger(record, defn, _compensation_step(record.compensation[0]))
            return
        if record.state in (RunState.CANCELLED, RunState.TIMED_OUT):
            await self.store.t.broadcast_cancel(run_id)
            await self._cancel_children(run_id)
        if record.state.terminal:
            if self._on_run_end is not None:
                self._on_run_end(record)
            await self._cleanup(record)
            message = f"{record.failed_step}: {record.error.type}: {record.error.message}" if record.error else ""
            await self.events.emit(run_id, f"run_{record.state.value}", message=message)
            if record.parent is not None:
                await self._complete_parent(record, defn)

    # -- sub-runs -------------------------------------------------------------------

    async def start_subrun(self, run_id: str, step: str, spec: Mapping[str, Any]) -> None:
        """A step's task asked for a sub-run (``execute_subtask``): start it, linked to this step.

        The step's job is acknowledged; the step stays running (holding no worker slot)
        until the sub-run ends, and then completes with the sub-run's result or error.
        """
        self._fenced.pop((run_id, step), None)
        definition = WorkflowDef.from_json(spec["definition"])
        child = _child_run_id(run_id, step)

        def waiting(current: StepRecord | None) -> StepRecord | None:
            if current is None or current.state.terminal or current.child_run == child:
                return None
            return current.evolve(child_run=child)

        await self.store.mutate_step(run_id, step, waiting)
        meta = await self.store.meta(run_id)
        if meta is None:
            return
        await self.events.emit(run_id, "subrun_started", step=step, message=f"{child} ({definition.name})")
        await self.start(
            definition,
            spec.get("input"),
            context=meta.record.context,
            run_id=child,
            trace=meta.record.trace,
            parent=(run_id, step),
        )

    async def _complete_parent(self, child: RunRecord, defn: WorkflowDef) -> None:
        assert child.parent is not None
        run_id, step = child.parent
        at = await self.store.step(run_id, step)
        if at is None or at.record.state.terminal or at.record.child_run != child.run_id:
            return
        if child.state == RunState.SUCCEEDED:
            value = await self.run_result(child, defn)
            await self.succeeded(run_id, step, json.dumps(value, separators=(",", ":")).encode())
            return
        cause = f"sub-run {child.run_id} {child.state.value}"
        if child.error is not None:
            cause += f": step {child.failed_step!r} raised {child.error.type}: {child.error.message}"
        error = StepError("jetjobs.workflow.SubRunFailed", cause, child.error.traceback if child.error else "")
        await self.failed(run_id, step, at.record.attempt, error)

    async def _cancel_children(self, run_id: str) -> None:
        meta = await self.store.meta(run_id)
        if meta is None:
            return
        defn = await self.store.definition(meta.record.name, meta.record.version)
        for key, data in (await self.store.run_keys(run_id, defn.topo_order())).items():
            if ".st." in key:
                record = StepRecord.decode(data)
                if record.child_run and not record.state.terminal:
                    await self.finish(record.child_run, "cancel")

    async def _log_compensating(self, record: RunRecord) -> None:
        message = f"compensating {', '.join(record.compensation)} ({record.cause})"
        await self.events.emit(record.run_id, "compensating", message=message)

    async def _cleanup(self, record: RunRecord) -> None:
        if record.timeout_job is not None:
            try:
                await self._cancel_delayed(*record.timeout_job)
            except Exception as exc:  # the timeout then fires on an ended run and does nothing
                log.debug("cancelling the timeout of run %s failed: %s", record.run_id, exc)
        try:
            await self.store.t.purge_counters(record.run_id)
        except Exception as exc:  # counters expire with the stream's max_age
            log.debug("purging counters of run %s failed: %s", record.run_id, exc)

    async def _compensation_order(self, meta: RunRecord, defn: WorkflowDef) -> tuple[str, ...]:
        """Completed steps that declare a compensation, most recently completed first."""
        if meta.state != RunState.RUNNING or not defn.compensate or defn.on_failure != "compensate":
            return ()
        names = sorted(defn.compensate)
        found = await asyncio.gather(*(self.store.step(meta.run_id, n) for n in names))
        done = [
            (at.record.finished_at or "", name)
            for name, at in zip(names, found, strict=True)
            if at is not None and at.record.state == StepState.SUCCEEDED
        ]
        return tuple(name for _, name in sorted(done, reverse=True))

    async def _next_compensation(self, meta: RunRecord, defn: WorkflowDef, step: str) -> None:
        current = await self.store.meta(meta.run_id)
        if current is None or current.record.state != RunState.COMPENSATING:
            return
        order = current.record.compensation
        done = step.removeprefix(_COMP_PREFIX)
        index = order.index(done) if done in order else len(order) - 1
        if index + 1 < len(order):
            await self.trigger(current.record, defn, _compensation_step(order[index + 1]))
        else:
            await self.finish(meta.run_id, "compensation_done")


T = TypeVar("T")
_COMP_PREFIX = "compensate-"
_PARALLEL = 256


async def _gather_bounded(calls: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """``asyncio.gather`` with at most _PARALLEL calls in flight (a 1,000-wide join reads 1,000 keys)."""
    gate = asyncio.Semaphore(_PARALLEL)

    async def one(call: Coroutine[Any, Any, T]) -> T:
        async with gate:
            return await call

    return list(await asyncio.gather(*(one(c) for c in calls)))


async def _bounded(calls: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run ``calls`` concurrently, at most _PARALLEL at a time; the first error is raised after all end."""
    gate = asyncio.Semaphore(_PARALLEL)

    async def one(call: Coroutine[Any, Any, None]) -> None:
        async with gate:
            await call

    results = await asyncio.gather(*(one(c) for c in calls), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


def _is_compensation(step: str) -> bool:
    return step.startswith(_COMP_PREFIX)


def _compensation_step(step: str) -> str:
    return f"{_COMP_PREFIX}{step}"


def _step_def(defn: WorkflowDef, step: str) -> StepDef:
    if _is_compensation(step):
        target = step.removeprefix(_COMP_PREFIX)
        if target in defn.compensate:
            return defn.compensate[target]
    return defn.step(step)


def _child_run_id(run_id: str, step: str) -> str:
    child = f"{run_id}--{step}"
    if len(child) <= 128:
        return child
    return f"{child[:100]}-{hashlib.sha256(child.encode()).hexdigest()[:16]}"


def _failed_by(current: StepRecord | None, seq: int) -> bool:
    return (
        current is not None and current.seq == seq and current.state == StepState.FAILED and current.error is not None
    )


def _cancelled(current: StepRecord | None) -> StepRecord | None:
    if current is not None and current.state.terminal:
        return None
    base = current or StepRecord(StepState.QUEUED, "", "")
    return base.evolve(state=StepState.CANCELLED, finished_at=now_iso())


def _outcome_record(
    before: RunRecord,
    state: RunState,
    event: str,
    step: str | None,
    error: StepError | None,
    order: tuple[str, ...],
) -> RunRecord:
    changes: dict[str, Any] = {"state": state}
    if state.terminal:
        changes["finished_at"] = now_iso()
    if event in ("step_failed", "timeout"):
        changes["cause"] = "timed_out" if event == "timeout" else "failed"
        changes["compensation"] = order
    if step is not None and before.failed_step is None and event in ("step_failed", "compensation_failed"):
        changes["failed_step"] = step
        changes["error"] = error
    return before.evolve(**changes)


def _retry_header(spec: StepDef) -> Mapping[str, str]:
    """A step's own retry policy travels with its job (the worker need not know the workflow)."""
    retry = spec.retry
    if retry is None and not spec.retry_on:
        return {}
    policy: dict[str, Any] = {"retry_on": list(spec.retry_on)}
    if retry is not None:
        policy |= {
            "max_attempts": retry.max_attempts,
            "backoff": retry.backoff,
            "initial_s": retry.initial_s,
            "step_s": retry.step_s,
            "max_s": retry.max_s,
            "multiplier": retry.multiplier,
            "jitter": retry.jitter,
        }
    return {H_RETRY_POLICY: json.dumps(policy, separators=(",", ":"))}
