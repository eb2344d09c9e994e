"""Job commands: ``enqueue``, ``status`` (``--follow``), ``tasks``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .._app import App
from .._status import JobState
from ._common import add_client_options, load_app, parse_json_arg, print_json, print_table, run_with_app
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
        "--follow", action="store_true", help="show state and progress live (a progress bar) until the job ends"
    )
    status.add_argument("--timeout-s", type=float, default=None, help="with --follow: give up after this long")
    add_client_options(status)
    status.set_defaults(func=cmd_status)

    tasks = sub.add_parser("tasks", help="list an app's tasks and their queues", description="List tasks.")
    tasks.add_argument("app", help="module:attribute of the App")
    tasks.add_argument("--json", action="store_true", help="print JSON")
    tasks.set_defaults(func=cmd_tasks)


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
        if args.follow and not args.json:
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


def cmd_tasks(args: argparse.Namespace) -> int:
    app = load_app(args.app)
    specs = [spec.describe() for spec in app.task_specs()]
    if args.json:
        print_json(specs)
        return 0
    rows = [
        (s["name"], s["queue"], s["priority"], s["kind"], s["max_retries"], s["timeout_s"], s["description"])
        for s in specs
    ]
    print_table(("TASK", "QUEUE", "PRIORITY", "RUNS IN", "RETRIES", "TIMEOUT S", "DESCRIPTION"), rows)
    return 0
