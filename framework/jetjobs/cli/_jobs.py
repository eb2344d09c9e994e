"""Job commands: ``enqueue``, ``status`` (``--follow``), ``tasks``, ``schema``."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import yaml

from .._app import App
from .._catalog import CatalogEntry
from .._names import Names
from .._status import JobState, decode_status
from ..catalog import document, entry_for
from ..errors import ConfigError
from ._common import (
    add_client_options,
    add_discover_option,
    apply_nats_url,
    load_app,
    parse_json_arg,
    print_json,
    print_table,
    run_with_app,
)
from ._duration import parse_duration
from ._follow import follow, plain_line


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    enqueue = sub.add_parser("enqueue", help="enqueue a job by task name", description="Enqueue one job.")
    enqueue.add_argument("task", help="task name")
    enqueue.add_argument("--args", help="positional arguments as a JSON array, e.g. '[\"a@example.com\"]'")
    enqueue.add_argument("--kwargs", help='keyword arguments as a JSON object, e.g. \'{"subject": "hi"}\'')
    enqueue.add_argument("--queue", help="queue (required unless --app registers the task)")
    enqueue.add_argument(
        "--priority", type=_priority, help="high, normal, low, or an integer (>= 5 high, <= -5 low, else normal)"
    )
    enqueue.add_argument("--job-id", help="idempotency key (default: random)")
    enqueue.add_argument("--delay", help="run later: 30s, 5m, 1h30m... (a delayed job)")
    enqueue.add_argument("--wait", action="store_true", help="wait for the result and print it")
    enqueue.add_argument("--timeout-s", type=float, default=60.0, help="with --wait (default: %(default)s)")
    add_client_options(enqueue)
    enqueue.set_defaults(func=cmd_enqueue)

    status = sub.add_parser("status", help="show a job's status", description="Show a job's status.")
    status.add_argument("job_id")
    status.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help="show state and progress live (a progress bar) until the job ends; with --json, every change as JSON",
    )
    status.add_argument("--timeout-s", type=float, default=None, help="with --follow: give up after this long")
    add_client_options(status)
    status.set_defaults(func=cmd_status)

    tasks = sub.add_parser(
        "tasks",
        help="list tasks: an app's, or the server's catalog",
        description="List the tasks of module:app, or without it the task catalog every worker publishes.",
    )
    tasks.add_argument("app", nargs="?", help="module:attribute of an App (default: the server's catalog)")
    tasks.add_argument("--nats-url", help="overrides JETJOBS_NATS_URL (server catalog)")
    tasks.add_argument("--json", action="store_true", help="print JSON")
    add_discover_option(tasks)
    tasks.set_defaults(func=cmd_tasks)

    schema = sub.add_parser(
        "schema",
        help="write an AsyncAPI 3 document of the queues and tasks",
        description="AsyncAPI 3.0.0 document (channels, messages, headers) of module:app, or of the server's catalog.",
    )
    schema.add_argument("app", nargs="?", help="module:attribute of an App (default: the server's catalog)")
    schema.add_argument("--nats-url", help="overrides JETJOBS_NATS_URL")
    schema.add_argument("--output", "-o", help="write to this file (default: stdout)")
    schema.add_argument("--yaml", action="store_true", help="YAML instead of JSON")
    schema.add_argument("--title", default="jetjobs tasks", help="info.title (default: %(default)s)")
    add_discover_option(schema)
    schema.set_defaults(func=cmd_schema)


def _priority(text: str) -> str | int:
    try:
        return int(text)
    except ValueError:
        if text not in ("high", "normal", "low"):
            raise argparse.ArgumentTypeError(f"{text!r} is not high, normal, low or an integer") from None
        return text


def cmd_enqueue(args: argparse.Namespace) -> int:
    call_args = parse_json_arg(args.args, "--args", list)
    call_kwargs = parse_json_arg(args.kwargs, "--kwargs", dict)
    options: dict[str, Any] = {
        k: v
        for k, v in (("queue", args.queue), ("priority", args.priority), ("job_id", args.job_id))
        if v is not None and v != ""
    }
    if args.delay:
        options["delay_s"] = parse_duration(args.delay).total_seconds()
    if args.wait and not (args.timeout_s > 0 and math.isfinite(args.timeout_s)):
        # Checked before anything is published: a job enqueued only to fail waiting would still run.
        raise ConfigError(f"--timeout-s must be a number of seconds > 0, got {args.timeout_s:g}")

    async def body(app: App) -> int:
        job = await app.enqueue(args.task, args=call_args, kwargs=call_kwargs, **options)
        if args.wait:
            value = await job.result(timeout_s=args.timeout_s)
            print_json({"job_id": job.id, "result": value} if args.json else value)
        elif args.json:
            print_json({"job_id": job.id, "queue": job.queue, "duplicate": job.duplicate})
        else:
            note = " (duplicate: a job with this id was enqueued recently)" if job.duplicate else ""
            when = f", due in {args.delay}" if args.delay else ""
            print(f"enqueued {job.id} on {job.queue}{when}{note}")
        return 0

    return run_with_app(args, body)


def cmd_status(args: argparse.Namespace) -> int:
    async def body(app: App) -> int:
        if args.follow and args.json:
            return await follow_changes(app, args.job_id, as_json=True)
        if args.follow:
            info = await follow(app, args.job_id, timeout_s=args.timeout_s)
            return 0 if info.state is JobState.SUCCEEDED else 1
        info = await app.status(args.job_id)
        if args.json:
            print_json(info.model_dump(mode="json"))
            return 0
        print(f"{info.id}: {info.state.value}  task={info.task} queue={info.queue} attempts={info.attempts}")
        for field in ("enqueued_at", "scheduled_for", "started_at", "finished_at", "first_failure_at", "worker"):
            value = getattr(info, field)
            if value is not None:
                print(f"  {field}: {value}")
        if info.next_attempt_in_s is not None:
            print(f"  next attempt in: {info.next_attempt_in_s}s")
        if info.progress is not None:
            print(f"  progress: {plain_line(info).split(': ', 1)[1]}")
        if info.error is not None:
            print(f"  error: {info.error.type}: {info.error.message}")
        if info.result is not None:
            print(f"  result: {json.dumps(info.result)}")
        return 0

    return run_with_app(args, body)


async def follow_changes(app: App, job_id: str, *, as_json: bool) -> int:
    """Print the job's record, then each change (a KV watch, no polling), until it is final."""
    await app.status(job_id, wait_s=2.0)  # JobNotFound, one clear line, when there is no record
    async for raw in app.status_store.watch(job_id):
        info = decode_status(raw)
        if as_json:
            print(json.dumps(info.model_dump(mode="json")), flush=True)
        else:
            detail = f" ({info.error.type}: {info.error.message})" if info.error else ""
            print(f"{info.updated_at or '-'}  {info.state.value:<9}  attempt {info.attempts}{detail}", flush=True)
        if info.state.is_final:
            return 0 if info.state.value == "succeeded" else 1
    return 1


def cmd_tasks(args: argparse.Namespace) -> int:
    if args.app is None:
        return _print_catalog(args)
    app = load_app(args.app, args.discover)
    specs = [spec.describe() for spec in app.task_specs()]
    if not specs and not args.json:
        print(f"{args.app} registers no tasks (decorate functions with @app.task, or import the modules that do)")
        return 0
    if args.json:
        print_json(specs)
        return 0
    rows = [
        (s["name"], s["queue"], s["priority"], s["kind"], s["max_retries"], s["timeout_s"], s["description"])
        for s in specs
    ]
    print_table(("TASK", "QUEUE", "PRIORITY", "RUNS IN", "RETRIES", "TIMEOUT S", "DESCRIPTION"), rows)
    return 0


def _print_catalog(args: argparse.Namespace) -> int:
    async def body(app: App) -> int:
        entries = await app.catalog.entries()
        if args.json:
            print_json([e.model_dump(mode="json") for e in entries])
        elif not entries:
            print("the task catalog is empty: no worker has published its tasks yet (workers publish at start-up)")
        else:
            rows = [
                (e.name, e.queue, e.priority, e.version, e.service, e.options.get("max_retries"), e.description)
                for e in entries
            ]
            print_table(("TASK", "QUEUE", "PRIORITY", "VERSION", "SERVICE", "RETRIES", "DESCRIPTION"), rows)
        return 0

    return run_with_app(args, body)


def cmd_schema(args: argparse.Namespace) -> int:
    """An AsyncAPI document from the module's tasks (no server needed) or from the server's catalog."""
    apply_nats_url(args)
    if args.app is not None:
        app = load_app(args.app, args.discover)
        entries = [entry_for(task, app.name) for task in app.tasks.values()]
        _write_schema(args, app, entries)
        return 0

    async def body(app: App) -> int:
        _write_schema(args, app, await app.catalog.entries())
        return 0

    return run_with_app(args, body)


def _write_schema(args: argparse.Namespace, app: App, entries: list[CatalogEntry]) -> None:
    priorities = {q: app.queue_config(q).ordered_priorities() for q in {e.queue for e in entries}}
    doc = document(
        sorted(entries, key=lambda e: e.name),
        Names(app.settings.namespace),
        title=args.title,
        server=app.settings.servers[0],
        priorities=priorities,
    )
    text = yaml.safe_dump(doc, sort_keys=False) if args.yaml else json.dumps(doc, indent=2)
    if args.output:
        Path(args.output).write_text(text + "\n")
    else:
        print(text)
