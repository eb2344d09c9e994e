"""Schedule commands: ``scheduler`` (the service), ``schedules ...`` and ``cancel``."""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from .._app import App
from .._wire import to_iso
from ..errors import JobNotFound
from ..scheduler import Scheduler
from ._common import add_client_options, parse_json_arg, print_json, print_table, run_with_app, service_app
from ._duration import parse_duration


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    service = sub.add_parser("scheduler", help="run the scheduler service", description="Fire periodic schedules.")
    service.add_argument("app", help="module:attribute of the App")
    service.add_argument("--metrics-port", type=int, help="port of /metrics, /healthz and /readyz")
    service.add_argument("--otel", action="store_true", help="export traces and metrics over OTLP (OTEL_* settings)")
    service.add_argument("--nats-url", help="overrides JETJOBS_NATS_URL")
    service.set_defaults(func=cmd_scheduler)

    cancel = sub.add_parser(
        "cancel",
        help="cancel a job: delayed, queued or running",
        description="Cancel a job: a delayed or queued one never runs, a running one is stopped.",
    )
    cancel.add_argument("job_id")
    cancel.add_argument(
        "--queue", help="the job's queue: needed once its status record has expired (delays > result_ttl_s)"
    )
    add_client_options(cancel)
    cancel.set_defaults(func=cmd_cancel)

    schedules = sub.add_parser("schedules", help="list and change schedules at runtime", description="Schedules.")
    actions = schedules.add_subparsers(
        dest="schedules_command", required=True, metavar="{list,add,pause,resume,remove,run-now}"
    )
    listing = actions.add_parser("list", help="every schedule with its last and next fire")
    add_client_options(listing)
    listing.set_defaults(func=cmd_list)
    add = actions.add_parser("add", help="add a schedule (all scheduler replicas pick it up)")
    add.add_argument("name")
    add.add_argument("--task", required=True, help="task name")
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", help="5 fields, or 6 with seconds first, e.g. '*/10 * * * * *'")
    when.add_argument("--every", help="interval: 30s, 5m, 1h30m...")
    add.add_argument("--tz", default="UTC", help="IANA time zone of the cron expression")
    add.add_argument("--args", help="positional arguments as a JSON array")
    add.add_argument("--kwargs", help="keyword arguments as a JSON object")
    add.add_argument("--queue", help="queue of the task (required unless --app registers it)")
    add.add_argument("--priority", choices=["high", "normal", "low"])
    add.add_argument("--jitter-s", type=float, default=0.0)
    add.add_argument("--exclusive", action="store_true", help="skip a fire while the previous run is not finished")
    add.add_argument("--misfire", choices=["skip", "once", "all"], default="skip")
    add.add_argument("--misfire-grace-s", type=float, default=60.0, help="how late a fire may still run")
    add.add_argument("--start-at", help="interval anchor, RFC 3339 with a zone, e.g. 2026-01-01T08:00:00+01:00")
    add.add_argument("--timeout-s", type=float)
    add.add_argument("--max-retries", type=int)
    add.add_argument("--replace", action="store_true", help="replace an existing dynamic schedule")
    add_client_options(add)
    add.set_defaults(func=cmd_add)
    for action, helptext in (
        ("pause", "stop firing"),
        ("resume", "fire again"),
        ("remove", "delete a dynamic schedule"),
        ("run-now", "enqueue one job of it now"),
    ):
        parser = actions.add_parser(action, help=helptext)
        parser.add_argument("name")
        if action == "remove":
            parser.add_argument("--force", action="store_true", help="also a code schedule its app no longer declares")
        add_client_options(parser)
        parser.set_defaults(func=cmd_change, action=action)


def cmd_scheduler(args: argparse.Namespace) -> int:
    app = service_app(args)

    async def run() -> int:
        scheduler = Scheduler(app, metrics_port=args.metrics_port)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, scheduler.request_stop)
        await scheduler.run()
        return 0

    return asyncio.run(run())


def cmd_cancel(args: argparse.Namespace) -> int:
    async def body(app: App) -> int:
        try:
            cancelled = await app.cancel(args.job_id, queue=args.queue)
        except JobNotFound as exc:
            raise JobNotFound(f"{exc}; give --queue to cancel a delayed job whose record has expired") from None
        if cancelled:
            print(f"cancelled {args.job_id}")
            return 0
        try:
            state = f"is {(await app.status(args.job_id)).state.value}: it has ended, nothing to cancel"
        except JobNotFound:
            state = f"is not waiting in queue {args.queue} and has no status record"
        print(f"job {args.job_id} {state}")
        return 1

    return run_with_app(args, body)


def cmd_list(args: argparse.Namespace) -> int:
    async def body(app: App) -> int:
        infos = await app.schedules.list()
        if args.json:
            print_json(
                [
                    {
                        **i.definition.model_dump(mode="json"),
                        "last_fire": to_iso(i.last_fire) if i.last_fire else None,
                        "next_fire": to_iso(i.next_fire) if i.next_fire else None,
                        "last_job_id": i.last_job_id,
                    }
                    for i in infos
                ]
            )
            return 0
        rows = [
            (
                i.definition.name,
                i.definition.task,
                i.definition.queue,
                i.definition.describe(),
                i.definition.source,
                "paused" if i.definition.paused else "active",
                to_iso(i.last_fire) if i.last_fire else None,
                to_iso(i.next_fire) if i.next_fire else None,
            )
            for i in infos
        ]
        print_table(("NAME", "TASK", "QUEUE", "SCHEDULE", "SOURCE", "STATE", "LAST FIRE", "NEXT FIRE"), rows)
        return 0

    return run_with_app(args, body)


def cmd_add(args: argparse.Namespace) -> int:
    fields: dict[str, Any] = {
        "tz": args.tz,
        "queue": args.queue,
        "priority": args.priority,
        "jitter_s": args.jitter_s,
        "exclusive": args.exclusive,
        "misfire": args.misfire,
        "misfire_grace_s": args.misfire_grace_s,
        "start_at": args.start_at,
        "timeout_s": args.timeout_s,
        "max_retries": args.max_retries,
        "kwargs": parse_json_arg(args.kwargs, "--kwargs", dict),
    }
    call_args = parse_json_arg(args.args, "--args", list)
    every = parse_duration(args.every) if args.every else None

    async def body(app: App) -> int:
        definition = await app.schedules.add(
            args.name, args.task, cron=args.cron, every=every, args=call_args, replace=args.replace, **fields
        )
        print(f"added schedule {definition.name}: {definition.task} {definition.describe()}")
        return 0

    return run_with_app(args, body)


def cmd_change(args: argparse.Namespace) -> int:
    async def body(app: App) -> int:
        if args.action == "pause":
            await app.schedules.pause(args.name)
            print(f"paused {args.name}")
        elif args.action == "resume":
            await app.schedules.resume(args.name)
            print(f"resumed {args.name}")
        elif args.action == "remove":
            await app.schedules.remove(args.name, force=args.force)
            print(f"removed {args.name}")
        else:
            job = await app.schedules.run_now(args.name)
            print(f"enqueued {job.id} on {job.queue}")
        return 0

    return run_with_app(args, body)
