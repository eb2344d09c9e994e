"""jetjobs next to plain nats-py 2.16, on this machine, in one run (``make bench``).

    .venv/bin/python bench/run.py            # N = 20,000 jobs, 1,000 latency samples, 3 runs each
    .venv/bin/python bench/run.py --quick    # N = 5,000, 300 samples, 1 run each

The workload and the targets are those of /work/shared/BENCHMARKS.md; bench/README.md
says exactly what each side does. Every measurement gets its own fresh nats-server,
and the two sides take turns going first, so neither inherits the other's state.
Results: a table on stdout and bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

# Run as a script (bench/run.py), so the repo root is not on sys.path yet; the
# bench package and the worker's `bench.tasks:app` are both imported from there.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import _jetjobs, _plain, _processes, _results, _tracing  # noqa: E402  (needs the sys.path line above)
from bench._runner import Measure, Runner  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "latest.json"
PHASES = ("enqueue_one", "enqueue_bulk", "drain", "drain_nostore", "latency", "tracing", "processes")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000, help="jobs per throughput measurement")
    parser.add_argument("--latency-samples", type=int, default=1000, help="latency samples per side")
    parser.add_argument("--latency-warmup", type=int, default=50, help="uncounted latency jobs first")
    parser.add_argument("--latency-gap-ms", type=float, default=1.0, help="quiet time after each latency sample")
    parser.add_argument("--bulk-chunk", type=int, default=1000, help="jobs per app.enqueue_many call")
    parser.add_argument("--repeat", type=int, help="runs per number; the best counts (default 3, --quick 1)")
    parser.add_argument("--quick", action="store_true", help="N=5000, 300 latency samples")
    parser.add_argument("--only", help=f"comma-separated subset: {','.join(PHASES)} (default all)")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write the results")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--noise-retries", type=int, default=2, help="re-measure a run disturbed by other processes")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.latency_samples = 5000, 300
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    args.only = args.only.split(",") if args.only else list(PHASES)
    if set(args.only) - set(PHASES):
        parser.error(f"--only takes {','.join(PHASES)}")
    if args.n < 2 or args.latency_samples < 1 or args.repeat < 1 or args.bulk_chunk < 1:
        parser.error("--n must be >= 2; --latency-samples, --repeat and --bulk-chunk >= 1")
    return args


def run_phases(args: argparse.Namespace, runner: Runner) -> tuple[dict[str, _results.Row], dict[str, Any]]:
    """Every selected phase; returns the table rows by target key and every run's details."""
    rows = {t.key: _results.Row(t) for t in _results.TARGETS}
    details: dict[str, Any] = {}
    n, warm, chunk = args.n, args.latency_warmup, args.bulk_chunk
    throughput: dict[str, tuple[Measure, Measure]] = {
        "enqueue_one": (
            lambda s: _plain.enqueue_one(s, n, warm),
            lambda s: _jetjobs.enqueue_one(s, n, warm),
        ),
        "enqueue_bulk": (
            lambda s: _plain.enqueue_bulk(s, n, warm),
            lambda s: _jetjobs.enqueue_bulk(s, n, warm, chunk),
        ),
        "drain": (lambda s: _plain.drain(s, n), lambda s: _jetjobs.drain(s, n, chunk)),
        "drain_nostore": (lambda s: _plain.drain(s, n), lambda s: _jetjobs.drain(s, n, chunk, store_result=False)),
    }
    for key, (plain, ours) in throughput.items():
        if key in args.only:
            p, j = runner.both_sides(key, plain, ours, args.repeat)
            rows[key].plain, rows[key].jetjobs = [r["rate"] for r in p], [r["rate"] for r in j]
            details[key] = {"plain": p, "jetjobs": j}
            server = (min(r["server_cpu_us"] for r in p), min(r["server_cpu_us"] for r in j))
            if key == "drain" and min(server) > 0:  # the server's CPU per job while draining, lowest run
                # (a tiny --n may finish within one clock tick of CPU accounting: then no row)
                rows["server_cpu"].plain, rows["server_cpu"].jetjobs = [server[0]], [server[1]]
    if "latency" in args.only:
        samples, gap = args.latency_samples, args.latency_gap_ms / 1000
        p, j = runner.both_sides(
            "latency",
            lambda s: _plain.latency(s, samples, warm, gap),
            lambda s: _jetjobs.latency(s, samples, warm, gap),
            args.repeat,
        )
        ps, js = [r.summary() for r in p], [r.summary() for r in j]
        for pct in ("p50", "p99"):
            rows[f"latency_{pct}"].plain = [s[f"{pct}_ms"] for s in ps]
            rows[f"latency_{pct}"].jetjobs = [s[f"{pct}_ms"] for s in js]
        details["latency"] = {"plain": ps, "jetjobs": js}
    if "tracing" in args.only:
        off, on = runner.both_sides(
            "tracing",
            lambda s: _tracing.run(s, n, chunk, tracing=False),
            lambda s: _tracing.run(s, n, chunk, tracing=True),
            args.repeat,
            sides=("off", "on"),
        )
        details["tracing"] = {"off": off, "on": on}
        rows["tracing"].plain = [r["drain"]["rate"] for r in off]
        rows["tracing"].jetjobs = [r["drain"]["rate"] for r in on]
    if "processes" in args.only:
        details["processes"] = _processes.run(runner, n, chunk, args.repeat)
    return {k: r for k, r in rows.items() if r.plain}, details


def notes(args: argparse.Namespace) -> dict[str, str]:
    """What exactly each side did, printed under the table (only for the phases that ran)."""
    every = {
        "enqueue_one": "awaited js.publish(subject, body, headers) vs awaited task.enqueue({...}); no worker",
        "enqueue_bulk": f"js.publish_async, window 512 vs app.enqueue_many, {args.bulk_chunk} jobs per call",
        "drain": "pre-filled queue, 1 process: pull_subscribe fetch(100)+msg.ack() vs `jetjobs worker "
        "bench.tasks:app` (defaults: concurrency 64, results stored); first→last handler start; "
        "server CPU: nats-server's CPU per job over the same drain (lowest run)",
        "drain_nostore": "the same drain; the worker's task has store_result=False",
        "latency": f"1 job in flight, {args.latency_samples} samples after {args.latency_warmup} warm-up, "
        f"{args.latency_gap_ms:g} ms quiet between jobs; consumer in a 2nd process: fetch(1) loop "
        "(a pull request always outstanding) vs `jetjobs worker`; enqueue call → handler's first line",
        "tracing": "jetjobs with tracing off vs on (telemetry.configure, batch span processor, an exporter "
        "that drops the batches): a producer process runs enqueue_many, then a worker process drains",
        "processes": _processes.note(args.n),
    }
    chosen = {k: v for k, v in every.items() if k in args.only}
    chosen["numbers"] = (
        f"best of {args.repeat} run(s) per side (in brackets: the worst run, relative to the best); "
        "ratios are jetjobs ÷ plain"
    )
    return chosen


def use_default_settings() -> list[str]:
    """Drop JETJOBS_* from our environment: both the bench's App and the workers run on defaults."""
    dropped = sorted(k for k in os.environ if k.upper().startswith("JETJOBS_"))
    for key in dropped:
        del os.environ[key]
    return dropped


def stop_on_signals() -> None:
    """Ctrl-C (or SIGTERM) ends the bench at once, through every ``finally`` that stops a process.

    asyncio.run's own SIGINT handling only cancels the running task, and a cancellation
    that lands inside nats-py's close() can be swallowed, so the bench would go on.
    A handler of our own (asyncio.run then keeps out) raises KeyboardInterrupt wherever
    the bench is; asyncio.run then cancels the measurement and runs its cleanup.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_signals()
    dropped = use_default_settings()
    if dropped:
        print(f"(ignoring {', '.join(dropped)}: the bench runs jetjobs with default settings)")
    info = _results.machine()
    print(
        f"jetjobs bench — {info['cpus']} CPUs ({info['cpu_model']}), Python {info['python']}, "
        f"nats-py {info['nats_py']}, nats-server {info['nats_server']}, jetjobs {info['jetjobs']} "
        f"({info['commit']})\n"
        f"N = {args.n:,} no-op jobs with one small dict argument; latency {args.latency_samples:,} "
        f"samples; {args.repeat} run(s) per number; a fresh nats-server for every run\n",
        flush=True,
    )
    started = time.monotonic()
    runner = Runner(retries=args.noise_retries)
    rows, details = run_phases(args, runner)
    print()
    if rows:
        print(_results.table(list(rows.values()), notes(args)))
    cpu = _results.cpu_table({k: v for k, v in details.items() if k not in ("tracing", "processes")})
    if cpu:
        print(f"\n{cpu}\n  client: the producer (enqueue) or the worker/consumer process (drain, first→last start)")
    if "tracing" in details:
        print(f"\n{_results.tracing_table(details['tracing'])}")
    if "processes" in details:
        print(f"\n{_processes.table(details['processes'])}\n  {_processes.note(args.n)}")
    if runner.noisy_runs:
        print(
            f"\n  WARNING: {runner.noisy_runs} of {len(runner.log)} runs shared the CPUs with other "
            "processes even after retrying; compare those numbers with care (see 'noise' in the JSON)"
        )
    document = {
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(time.monotonic() - started, 1),
        "machine": info,
        "params": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "results": {k: r.to_json() for k, r in rows.items()},
        "details": details,
        "noise": runner.log,
        "notes": notes(args),
    }
    _results.write_json(args.json, document)
    print(f"\nresults: {args.json} ({document['seconds']:.0f}s)")
    missed = [r.target.label for r in rows.values() if not r.target.passes(r.ratio)]
    if "processes" in details and not _processes.passes(details["processes"]):
        missed.append("2 processes ÷ 1")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
