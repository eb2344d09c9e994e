"""Workflow runs for the UI: the bounded run listing and one run's detail (``_dag`` draws its DAG).

Everything is read through the App's workflow API (``app.workflow_runs``, ``app.workflow_run``
and the run's ``status``, ``definition`` and ``logs``).
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

from .._app import App
from ..errors import WorkflowNotFound
from ..workflow import RunStatus, StepStatus, WorkflowDef
from ..workflow._duration import format_seconds, seconds_between
from ..workflow._state import RunState
from ._dag import dag_layout

RUN_STATES: tuple[str, ...] = tuple(state.value for state in RunState)
RUN_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")  # what the engine accepts; never a subject wildcard
OUTPUT_CHARS = 2000
LOG_LIMIT = 1000


def took(seconds: float | None) -> str:
    """``12 ms``, ``3.40 s``, ``2 min 05 s``; an en dash when unknown, as the other pages show a missing time."""
    return format_seconds(seconds, missing="\u2013")


def run_row(status: RunStatus) -> dict[str, Any]:
    """One line of the runs listing: the run, its timings and a count of its steps by state."""
    steps = [s for name, s in status.steps.items() if not name.startswith("compensate-")]
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.state] = counts.get(step.state, 0) + 1
    seconds = seconds_between(status.started_at, status.finished_at)
    return {
        "run_id": status.run_id,
        "name": status.name,
        "version": status.version,
        "state": status.state,
        "started_at": status.started_at,
        "finished_at": status.finished_at,
        "duration_s": seconds,
        "took": took(seconds),
        "cause": status.cause,
        "failed_step": status.failed_step,
        "error": f"{status.error.type}: {status.error.message}" if status.error else None,
        "steps": len(steps),
        "succeeded": counts.get("succeeded", 0),
        "step_states": dict(sorted(counts.items())),
    }


async def list_runs(app: App, name: str, state: str, limit: int) -> dict[str, Any]:
    """The newest ``limit`` runs, of workflow ``name`` and in ``state`` when given."""
    runs = await app.workflow_runs(name=name or None, state=state or None, limit=limit)
    return {
        "filter": {"name": name, "state": state},
        "runs": [run_row(r) for r in runs],
        "limit": limit,
        "states": list(RUN_STATES),
    }


def _preview(value: Any) -> tuple[str | None, bool]:
    if value is None:
        return None, False
    text = json.dumps(value, indent=2, default=str, ensure_ascii=False)
    if len(text) <= OUTPUT_CHARS:
        return text, False
    return text[:OUTPUT_CHARS], True


def _error(step: StepStatus) -> dict[str, str] | None:
    e = step.error
    return {"type": e.type, "message": e.message, "traceback": e.traceback} if e else None


def step_row(step: StepStatus, defn: WorkflowDef) -> dict[str, Any]:
    preview, truncated = _preview(step.output)
    undoes = step.name.removeprefix("compensate-") if step.name.startswith("compensate-") else None
    seconds = seconds_between(step.started_at, step.finished_at)
    return {
        "name": step.name,
        "task": step.task,
        "state": step.state,
        "attempts": step.attempts,
        "started_at": step.started_at,
        "finished_at": step.finished_at,
        "duration_s": seconds,
        "took": took(seconds),
        "depends_on": list(step.depends_on),
        "trigger": None if undoes else defn.step(step.name).trigger,
        "output_preview": preview,
        "output_truncated": truncated,
        "output_ref": step.output_ref,
        "error": _error(step),
        "undoes": undoes,
    }


def step_states(status: RunStatus, defn: WorkflowDef) -> dict[str, str]:
    """Each step's state; a declared compensation that a finished run never needed is 'not run'."""
    states = {name: step.state for name, step in status.steps.items()}
    for target in defn.compensate:
        name = f"compensate-{target}"
        states.setdefault(name, "not run" if RunState(status.state).terminal else "pending")
    return states


async def run_detail(app: App, run_id: str) -> dict[str, Any] | None:
    """Everything about one run: state, cause, error, timings, steps, the DAG and the log (bounded)."""
    if not RUN_ID_RE.fullmatch(run_id):
        return None
    run = await app.workflow_run(run_id)
    try:
        status = await run.status()
    except WorkflowNotFound:
        return None
    defn = await run.definition()
    log: list[dict[str, Any]] = []
    log_truncated = False
    events = run.logs()
    async with contextlib.aclosing(events):
        async for event in events:
            if len(log) >= LOG_LIMIT:
                log_truncated = True
                break
            log.append(
                {
                    "at": event.at,
                    "kind": event.kind,
                    "step": event.step,
                    "attempt": event.attempt,
                    "message": event.message,
                    "line": event.line(),
                }
            )
    steps = [step_row(s, defn) for s in status.steps.values()]
    summary = run_row(status)
    return {
        "run": {**summary, "error": status.to_json()["error"], "compensation": list(status.compensation)},
        "description": defn.description,
        "steps": [s for s in steps if not s["undoes"]],
        "compensation_steps": [s for s in steps if s["undoes"]],
        "declared_compensations": [
            {"undoes": target, "name": f"compensate-{target}", "task": comp.task}
            for target, comp in defn.compensate.items()
        ],
        "dag": dag_layout(defn, step_states(status, defn)),
        "log": log,
        "log_limit": LOG_LIMIT,
        "log_truncated": log_truncated,
        "cancellable": status.state == RunState.RUNNING.value,
    }
