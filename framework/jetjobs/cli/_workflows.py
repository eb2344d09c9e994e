"""Workflow commands: ``workflow run|status|logs|list|cancel``.

They need no task code: a run's definition is read from the server, so the server
URL (``--nats-url`` or JETJOBS_NATS_URL) is enough. ``--app`` adds an app's own
workflow declarations (``workflow run`` publishes them first) and its settings.

    jetjobs workflow run order-processing --input '{"order_id": "o-1"}' --wait
    jetjobs workflow status 5f0c...        # the run, its DAG with each step's state, a step table
    jetjobs workflow logs 5f0c... --follow
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict
from typing import Any

from .._app import App
from ..workflow import RunEvent, RunStatus, WorkflowDef, WorkflowRun, render_dag
from ..workflow._duration import format_seconds, seconds_between
from ..workflow._state import RunState
from ._common import add_client_options, print_json, print_table, run_with_app

RUN_STATES = tuple(state.value for state in RunState)
# The last record of a run's log: ``run_<final state>`` (see the engine's _after_transition).
FINAL_EVENTS = frozenset(f"run_{state.value}" for state in RunState if state.terminal)
_ERROR_CHARS = 300
_FINAL_EVENT_GRACE_S = 2.0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    workflow = sub.add_parser(
        "workflow",
        help="start, inspect and cancel workflow runs",
        description="Workflow runs. A run's definition is read from the server: no task code is needed.",
    )
    actions = workflow.add_subparsers(dest="workflow_command", required=True, metavar="{run,status,logs,list,cancel}")

    run = actions.add_parser("run", help="start a run of a workflow (its latest version unless --version)")
    run.add_argument("name", help="workflow name")
    run.add_argument("--input", help='the run\'s input as JSON, e.g. \'{"order_id": "o-1"}\' (default: {})')
    run.add_argument("--context", help="context as JSON, available to templates as {{context...}} (default: {})")
    run.add_argument("--version", help="a registered version (default: the --app's, else the latest registered)")
    run.add_argument("--run-id", help="idempotency key: starting the same run id again returns that run")
    run.add_argument("--wait", action="store_true", help="wait for the run to end and print its result")
    run.add_argument("--timeout-s", type=float, default=60.0, help="with --wait (default: %(default)s)")
    add_client_options(run)
    run.set_defaults(func=cmd_run)

    status = actions.add_parser("status", help="a run's state, its DAG with each step's state, and a step table")
    status.add_argument("run_id")
    add_client_options(status)
    status.set_defaults(func=cmd_status)

    logs = actions.add_parser("logs", help="a run's event log, one line per event")
    logs.add_argument("run_id")
    logs.add_argument("--follow", "-f", action="store_true", help="then print new events until the run ends")
    add_client_options(logs)
    logs.set_defaults(func=cmd_logs)

    listing = actions.add_parser("list", help="runs, newest first")
    listing.add_argument("--name", help="only runs of this workflow")
    listing.add_argument("--state", choices=RUN_STATES, help="only runs in this state")
    listing.add_argument("--limit", type=int, default=50, help="at most this many runs (default: %(default)s)")
    add_client_options(listing)
    listing.set_defaults(func=cmd_list)

    cancel = actions.add_parser("cancel", help="cancel a running run (its compensation, once begun, runs to its end)")
    cancel.add_argument("run_id")
    add_client_options(cancel)
    cancel.set_defaults(func=cmd_cancel)


def usage_error(message: str) -> int:
    """One line on stderr and exit code 2, as for any other misuse of the command line."""
    print(f"jetjobs: error: {message}", file=sys.stderr)
    return 2


def parse_json_value(text: str | None, option: str) -> tuple[Any, str | None]:
    """``(value, None)``, or ``(None, problem)`` naming the option; no text means ``{}``."""
    if text is None:
        return {}, None
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"{option} is not valid JSON ({exc}): {text!r}"


# -- commands -----------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    run_input, problem = parse_json_value(args.input, "--input")
    context, context_problem = parse_json_value(args.context, "--context")
    if problem or context_problem:
        return usage_error(problem or context_problem or "")
    if args.wait and args.timeout_s <= 0:
        return usage_error(f"--timeout-s must be > 0, not {args.timeout_s:g}")

    async def body(app: App) -> int:
        run = await app.execute_workflow(
            args.name, run_input, context=context, version=args.version, run_id=args.run_id
        )
        if not args.wait:
            if args.json:
                print_json({"run_id": run.id, "name": args.name})
            else:
                print(run.id)
            return 0
        print(f"run {run.id} of {args.name} started; waiting up to {args.timeout_s:g}s", file=sys.stderr)
        result = await run.result(timeout_s=args.timeout_s)  # WorkflowFailed: one line, exit 1
        print_json({"run_id": run.id, "result": result} if args.json else result)
        return 0

    return run_with_app(args, body)


def cmd_status(args: argparse.Namespace) -> int:
    async def body(app: App) -> int:
        run = await app.workflow_run(args.run_id)
        status = await run.status()
        if args.json:
            print_json(status.to_json())
            return 0
        print(format_status(status, await run.definition()))
        print()
        print_table(("STEP", "TASK", "STATE", "ATTEMPTS", "STARTED", "TOOK"), step_rows(status))
        for line in step_errors(status):
            print(line)
        return 0

    return run_with_app(args, body)


def cmd_logs(args: argparse.Namespace) -> int:
    async def body(app: App) -> int:
        run = await app.workflow_run(args.run_id)
        await run.record()  # WorkflowNotFound for an unknown run, rather than an empty log
        if args.follow:
            await follow_logs(run, as_json=args.json)
        else:
            async for event in run.logs():
                print_event(event, as_json=args.json)
        return 0

    return run_with_app(args, body)


def print_event(event: RunEvent, *, as_json: bool) -> None:
    print(json.dumps(asdict(event)) if as_json else event.line(), flush=True)


async def follow_logs(run: WorkflowRun, *, as_json: bool) -> None:
    """Print the log, then new events, until the run's final event (``run_<state>``).

    The reader is stopped by cancelling it while it waits for the next event, so that
    its subscription is closed before the connection is. Should the final event never
    come (logging is best effort), the end of the run itself stops it after a grace period.
    """
    final = asyncio.Event()

    async def printer() -> None:
        async for event in run.logs(follow=True):
            print_event(event, as_json=as_json)
            if event.kind in FINAL_EVENTS:
                final.set()

    reader = asyncio.create_task(printer())
    ended = asyncio.create_task(run.wait())
    waiting = asyncio.create_task(final.wait())
    try:
        done, _ = await asyncio.wait({reader, ended, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if reader in done:
            reader.result()  # its error, if it failed
        elif waiting not in done:  # the run ended: its final event is on its way
            await asyncio.wait({reader, waiting}, timeout=_FINAL_EVENT_GRACE_S, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (reader, ended, waiting):
            task.cancel()
        await asyncio.gather(reader, ended, waiting, return_exceptions=True)


def cmd_list(args: argparse.Namespace) -> int:
    if args.limit < 1:
        return usage_error(f"--limit must be at least 1, not {args.limit}")

    async def body(app: App) -> int:
        runs = await app.workflow_runs(name=args.name, state=args.state, limit=args.limit)
        if args.json:
            print_json([run.to_json() for run in runs])
            return 0
        if not runs:
            wanted = " ".join(f"{k}={v}" for k, v in (("name", args.name), ("state", args.state)) if v)
            print(f"no workflow runs{f' with {wanted}' if wanted else ''}")
            return 0
        rows = [
            (
                r.run_id,
                r.name,
                r.version,
                r.state,
                step_summary(r),
                r.failed_step,
                readable_time(r.started_at),
                format_seconds(seconds_between(r.started_at, r.finished_at)),
            )
            for r in runs
        ]
        print_table(("RUN", "WORKFLOW", "VERSION", "STATE", "STEPS", "FAILED STEP", "STARTED", "TOOK"), rows)
        return 0

    return run_with_app(args, body)


def cmd_cancel(args: argparse.Namespace) -> int:
    async def body(app: App) -> int:
        run = await app.workflow_run(args.run_id)
        if await run.cancel():
            print(f"cancelled run {run.id}")
            return 0
        state = (await run.record()).state
        if state == RunState.COMPENSATING:
            print(f"run {run.id} is compensating: its compensation runs to its end and cannot be cancelled")
        else:
            print(f"run {run.id} had already ended ({state.value}): nothing to cancel")
        return 1

    return run_with_app(args, body)


# -- formatting (pure) ----------------------------------------------------------------


def step_states(status: RunStatus, defn: WorkflowDef) -> dict[str, str]:
    """Each step's state for the drawing; a compensation a finished run never needed is 'not run'."""
    states = {name: step.state for name, step in status.steps.items()}
    if RunState(status.state).terminal:
        for comp in defn.compensate.values():
            states.setdefault(comp.name, "not run")
    return states


def step_summary(status: RunStatus) -> str:
    """``3/3 succeeded`` over the DAG's steps (compensations not counted)."""
    steps = [s for name, s in status.steps.items() if not name.startswith("compensate-")]
    return f"{sum(s.state == 'succeeded' for s in steps)}/{len(steps)} succeeded"


def format_status(status: RunStatus, defn: WorkflowDef) -> str:
    """The head of ``jetjobs workflow status``: the run, why it ended, and its DAG with step states."""
    lines = [f"run {status.run_id}: {status.state}", f"  workflow: {status.name} v{status.version}"]
    started = f"  started: {readable_time(status.started_at)}"
    if status.finished_at:
        took = format_seconds(seconds_between(status.started_at, status.finished_at))
        lines.append(f"{started}  finished: {readable_time(status.finished_at)}  (took {took})")
    else:
        lines.append(f"{started}  finished: -")
    if status.cause:
        lines.append(f"  cause: {status.cause}")
    if status.failed_step:
        lines.append(f"  failed step: {status.failed_step}")
    if status.error:
        lines.append(f"  error: {_shorten(f'{status.error.type}: {status.error.message}')}")
    if status.compensation:
        lines.append(f"  compensation: undoes {', '.join(status.compensation)}")
    return "\n".join([*lines, "", render_dag(defn, step_states(status, defn))])


def step_rows(status: RunStatus) -> list[tuple[Any, ...]]:
    """One row per step, compensations last: state, attempts, the time it started (the date only
    when not the run's) and how long it took."""
    day = status.started_at[:10]
    return [
        (
            s.name,
            s.task,
            s.state,
            s.attempts,
            readable_time(s.started_at, day=day),
            format_seconds(seconds_between(s.started_at, s.finished_at)),
        )
        for s in status.steps.values()
    ]


def readable_time(stamp: str | None, *, day: str = "") -> str | None:
    """``2026-12-04T15:44:45.181025Z`` as ``2026-12-04 15:44:45.181 UTC``, or ``15:44:45.181`` on ``day``."""
    if not stamp:
        return None
    date, _, clock = stamp.partition("T")
    clock = clock.rstrip("Z")[:12]
    return clock if date == day else f"{date} {clock} UTC"


def step_errors(status: RunStatus) -> list[str]:
    """The last error of steps other than the one the run failed on (e.g. one that is retrying)."""
    return [
        f"  {s.name} (attempt {s.attempts}): {_shorten(f'{s.error.type}: {s.error.message}')}"
        for s in status.steps.values()
        if s.error is not None and s.name != status.failed_step
    ]


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 3] + "..."
