"""Read commands over stored state: ``jobs list`` (bounded status scans) and ``workers`` (presence)."""

from __future__ import annotations

import argparse

from .._app import App
from .._job_list import STATES, JobFilter, list_jobs
from ..worker._presence import list_workers
from ._common import add_client_options, print_json, print_table, run_with_app


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    jobs = sub.add_parser("jobs", help="list jobs by queue and state", description="Jobs from the status bucket.")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True, metavar="{list}")
    listing = jobs_sub.add_parser(
        "list",
        help="newest jobs first, filtered",
        description="Newest jobs first. Reads at most 3,000 status records per call; --before continues.",
    )
    listing.add_argument("--queue", help="only this queue")
    listing.add_argument("--state", choices=STATES, help="only this state")
    listing.add_argument("--id", dest="q", default="", help="a job id or the start of one")
    listing.add_argument("--limit", type=int, default=50, help="rows (default: %(default)s)")
    listing.add_argument("--before", type=int, default=0, help="continue below this cursor (from a previous call)")
    add_client_options(listing)
    listing.set_defaults(func=cmd_jobs_list)

    workers = sub.add_parser("workers", help="worker processes and their heartbeats", description="List workers.")
    add_client_options(workers)
    workers.set_defaults(func=cmd_workers)


def cmd_jobs_list(args: argparse.Namespace) -> int:
    flt = JobFilter(queue=args.queue or "", state=args.state or "", q=args.q, before=args.before)

    async def body(app: App) -> int:
        page = await list_jobs(app, flt, max(1, min(args.limit, 1000)))
        if args.json:
            print_json(page)
            return 0
        rows = [
            (j["id"], j["state"], j["task"], j["queue"], j["attempts"], j["updated_at"], j["error"])
            for j in page["jobs"]
        ]
        print_table(("JOB ID", "STATE", "TASK", "QUEUE", "ATTEMPTS", "UPDATED", "ERROR"), rows)
        more = f"; older: --before {page['next_before']}" if page["next_before"] else ""
        print(f"{len(rows)} jobs, {page['scanned']} records read{more}")
        return 0

    return run_with_app(args, body)


def cmd_workers(args: argparse.Namespace) -> int:
    async def body(app: App) -> int:
        workers = await list_workers(app.connection)
        if args.json:
            print_json(workers)
            return 0
        rows = [
            (
                w["worker"],
                w["app"],
                ", ".join(f"{q}({c})" for q, c in w["queues"].items()),
                w["running"],
                w["heartbeat_at"],
                "stale" if w["stale"] else "alive",
            )
            for w in workers
        ]
        print_table(("WORKER", "APP", "QUEUES", "IN FLIGHT", "LAST HEARTBEAT", "STATE"), rows)
        return 0

    return run_with_app(args, body)
