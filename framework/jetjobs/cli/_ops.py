"""Operator commands: ``queues`` and ``dlq list|show|replay|delete``."""

from __future__ import annotations

import argparse
import dataclasses

from .. import transport
from .._app import App
from ..errors import ConfigError
from ._common import add_client_options, print_json, print_table, progress, run_with_app


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    queues = sub.add_parser("queues", help="backlog, in-flight and dead jobs per queue", description="List queues.")
    add_client_options(queues)
    queues.set_defaults(func=cmd_queues)

    dlq = sub.add_parser("dlq", help="inspect and replay dead letters", description="Dead-letter queue.")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True, metavar="{list,show,replay,delete}")
    listing = dlq_sub.add_parser("list", help="list dead letters")
    listing.add_argument("--queue", help="only this queue")
    listing.add_argument("--limit", type=int, default=50)
    add_client_options(listing)
    listing.set_defaults(func=cmd_dlq_list)
    show = dlq_sub.add_parser("show", help="show one dead letter with its traceback")
    show.add_argument("seq", type=int)
    add_client_options(show)
    show.set_defaults(func=cmd_dlq_show)
    replay = dlq_sub.add_parser("replay", help="run dead letters again (same job id)")
    replay.add_argument("seq", type=int, nargs="*", help="sequence numbers from 'dlq list'")
    replay.add_argument("--all", action="store_true", help="replay every dead letter (of --queue)")
    replay.add_argument("--queue", help="with --all: only this queue")
    replay.add_argument("--keep", action="store_true", help="keep them in the DLQ as well")
    add_client_options(replay)
    replay.set_defaults(func=cmd_dlq_replay)
    delete = dlq_sub.add_parser("delete", help="delete dead letters")
    delete.add_argument("seq", type=int, nargs="+")
    add_client_options(delete)
    delete.set_defaults(func=cmd_dlq_delete)


def cmd_queues(args: argparse.Namespace) -> int:
    async def body(app: App) -> int:
        conn = app.connection
        stats = [s for q in await transport.list_queues(conn) if (s := await transport.queue_stats(conn, q))]
        if args.json:
            print_json(
                [
                    {
                        "queue": s.queue,
                        "backlog": s.backlog,
                        "in_flight": s.in_flight,
                        "dead": s.dead,
                        "max_length": s.max_length,
                        "consumers": [{**dataclasses.asdict(c), "backlog": c.backlog} for c in s.consumers],
                    }
                    for s in stats
                ]
            )
            return 0
        rows = [
            (s.queue, s.backlog, s.in_flight, s.dead, s.max_length, len(s.consumers), s.waiting_pulls) for s in stats
        ]
        print_table(("QUEUE", "BACKLOG", "IN FLIGHT", "DEAD", "MAX LENGTH", "CONSUMERS", "WAITING PULLS"), rows)
        return 0

    return run_with_app(args, body)


def cmd_dlq_list(args: argparse.Namespace) -> int:
    async def body(app: App) -> int:
        dead = await app.dead_letters.list(args.queue, limit=args.limit)
        if args.json:
            print_json([_jsonable(d) for d in dead])
            return 0
        rows = [
            (
                d.seq,
                d.queue,
                d.task,
                d.job_id,
                d.attempts,
                d.reason,
                f"{d.error_type}: {d.error_message}"[:80],
                d.last_failure_at,
            )
            for d in dead
        ]
        print_table(("SEQ", "QUEUE", "TASK", "JOB ID", "ATTEMPTS", "REASON", "ERROR", "LAST FAILURE"), rows)
        return 0

    return run_with_app(args, body)


def cmd_dlq_show(args: argparse.Namespace) -> int:
    async def body(app: App) -> int:
        dead = await app.dead_letters.get(args.seq)
        if args.json:
            print_json(_jsonable(dead))
            return 0
        print(f"dead letter {dead.seq}: job {dead.job_id} task {dead.task} queue {dead.queue}")
        print(f"  reason: {dead.reason}; attempts: {dead.attempts}")
        print(f"  first failure: {dead.first_failure_at}; last failure: {dead.last_failure_at}")
        print(f"  error: {dead.error_type}: {dead.error_message}")
        print(f"  body: {dead.body.decode(errors='replace')}")
        print("  headers:")
        for key, value in sorted(dead.headers.items()):
            if not key.startswith("Jetjobs-Dlq-Traceback"):
                print(f"    {key}: {value}")
        if dead.traceback:
            print("  traceback:")
            print("    " + dead.traceback.rstrip().replace("\n", "\n    "))
        return 0

    return run_with_app(args, body)


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    if bool(args.seq) == bool(args.all):
        raise ConfigError("give sequence numbers or --all")

    async def body(app: App) -> int:
        seqs = list(args.seq) or [d.seq for d in await app.dead_letters.list(args.queue, limit=100_000)]
        with progress(len(seqs), "replaying") as step:
            for seq in seqs:
                job = await app.dead_letters.replay(seq, keep=args.keep)
                step(f"replayed dead letter {seq} as job {job.id} on {job.queue}")
        if not seqs:
            print("no dead letters")
        return 0

    return run_with_app(args, body)


def cmd_dlq_delete(args: argparse.Namespace) -> int:
    async def body(app: App) -> int:
        for seq in args.seq:
            found = await app.dead_letters.delete(seq)
            print(f"deleted dead letter {seq}" if found else f"no dead letter {seq}")
        return 0

    return run_with_app(args, body)


def _jsonable(dead: object) -> dict[str, object]:
    data = dataclasses.asdict(dead)  # type: ignore[call-overload]
    data["body"] = data["body"].decode(errors="replace")
    return dict(data)
