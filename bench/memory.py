"""Worker memory with a small and a huge backlog, in one run (part of ``make bench``).

    .venv/bin/python bench/memory.py           # backlogs of 20,000 and 1,000,000 jobs
    .venv/bin/python bench/memory.py --quick   # 20,000 and 200,000

Target (issue 14): the RSS of a ``jetjobs worker`` process stays flat — its peak with a
1,000,000-job backlog within 10 % of its peak with a 20,000-job backlog. For each
backlog: a fresh nats-server, filled with no-op jobs while nothing consumes, then one
``jetjobs worker bench.tasks:app`` process (default settings: concurrency 64, status and
results stored) drains it while its RSS is sampled from /proc. bench/README.md says more.
Results: a table on stdout and bench/results/memory.json.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import _memory, _results  # noqa: E402  (needs the sys.path line above)
from bench.run import stop_on_signals, use_default_settings  # noqa: E402
from jetjobs.testing import NatsServer  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "memory.json"
BOUND = 1.10  # peak RSS with the big backlog ÷ with the small one
FALLBACK_BYTES_PER_JOB = 2048.0  # disk per job before the small run has measured it


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=20_000, help="the small backlog (jobs)")
    parser.add_argument("--large", type=int, default=1_000_000, help="the large backlog (jobs)")
    parser.add_argument("--quick", action="store_true", help="large backlog 200,000")
    parser.add_argument(
        "--drain",
        type=int,
        help="stop after this many jobs of the large backlog have started (default: drain all of it)",
    )
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between RSS samples")
    parser.add_argument("--bulk-chunk", type=int, default=1000, help="jobs per app.enqueue_many call")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write the results")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    if args.quick:
        args.large = 200_000
    if args.drain is None or args.drain > args.large:
        args.drain = args.large
    if not 1000 <= args.small < args.large or args.drain < args.small or args.interval <= 0:
        parser.error("need 1000 <= --small < --large, --drain >= --small and --interval > 0")
    return args


def say(text: str) -> None:
    print(text, flush=True)


def measure(backlog: int, drained: int, args: argparse.Namespace, bytes_per_job: float) -> dict[str, Any]:
    """One backlog on its own nats-server: fill, then drain with one worker process."""
    say(f"backlog {backlog:,}: fresh nats-server, filling")
    with NatsServer() as server:
        _memory.check_disk(server, backlog, bytes_per_job, say)
        filled = asyncio.run(_memory.fill(server, backlog, args.bulk_chunk, say))
        store = _memory.disk_bytes(server.store_dir)
        say(
            f"  filled {backlog:,} in {filled['seconds']:.0f}s ({filled['rate']:,.0f}/s); "
            f"{filled['waiting']:,} waiting; store {store / 2**20:,.0f} MiB"
        )
        every = 1000 if backlog <= 100_000 else 5000
        say(f"  draining {drained:,} of them with one `jetjobs worker` process")
        run = asyncio.run(_memory.drain(server, int(filled["waiting"]), drained, every, args.interval, say))
        result = run.to_json()
        say(
            f"  drained {result['drained']:,} ({result['rate'] or 0:,.0f}/s): worker peak RSS "
            f"{run.peak_kb / 1024:.1f} MiB, steady {run.steady_kb / 1024:.1f} MiB"
        )
    return {**result, "fill": filled, "store_bytes": store}


def mib(kb: float) -> str:
    return f"{kb / 1024:.1f}"


def table(small: dict[str, Any], large: dict[str, Any], ratio: float) -> str:
    s, g = f"{small['backlog']:,} backlog", f"{large['backlog']:,} backlog"
    lines: list[tuple[str, ...]] = [("worker RSS (MiB)", s, g, "large ÷ small", "target", "result")]
    lines.append(
        (
            "peak (VmHWM)",
            mib(small["peak_rss_kb"]),
            mib(large["peak_rss_kb"]),
            f"{ratio:.3f}x",
            f"≤ {BOUND:g}x",
            "PASS" if ratio <= BOUND else "FAIL",
        )
    )
    for key, label in (("steady_rss_kb", "steady (median, 2nd half)"), ("first_job_rss_kb", "at the first jobs")):
        lines.append((label, mib(small[key]), mib(large[key]), f"{large[key] / small[key]:.3f}x", "", ""))
    lines.append(
        (
            "result writes awaiting PubAck, max",
            f"{small['max_awaiting_answer']:,}",
            f"{large['max_awaiting_answer']:,}",
            "",
            "",
            "",
        )
    )
    lines.append(("jobs drained", f"{small['drained']:,}", f"{large['drained']:,}", "", "", ""))
    rates = [f"{r['rate']:,}" if r["rate"] else "-" for r in (small, large)]
    lines.append(("drain rate (jobs/s)", *rates, "", "", ""))
    servers = [f"{mib(r['server_rss_kb']['start'])} → {mib(r['server_rss_kb']['end'])}" for r in (small, large)]
    lines.append(("nats-server RSS (not compared)", *servers, "", "", ""))
    return "\n".join(_results._grid(lines))


def curve(run: dict[str, Any]) -> str:
    points = ", ".join(f"{jobs:,}: {mib(kb)}" for jobs, kb in run["curve"])
    return f"  RSS (MiB) by jobs started, {run['backlog']:,} backlog: {points}"


def notes(args: argparse.Namespace, large: dict[str, Any]) -> dict[str, str]:
    drained = "all of it" if args.drain >= args.large else f"the first {args.drain:,} jobs (--drain)"
    return {
        "compared": "VmHWM of the worker process (the kernel's peak RSS over its whole life: start-up "
        f"and drain) with the large backlog ÷ with the small one; PASS when <= {BOUND:g}",
        "method": f"fresh nats-server per backlog, filled by app.enqueue_many ({args.bulk_chunk}/call) with "
        f"nothing consuming; then `jetjobs worker bench.tasks:app` (defaults: concurrency 64, status and "
        f"results stored) drains {drained}; VmRSS sampled every {args.interval:g}s",
        "large backlog": f"{large['backlog']:,} jobs were waiting when the worker started",
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_signals()
    dropped = use_default_settings()
    if dropped:
        say(f"(ignoring {', '.join(dropped)}: the bench runs jetjobs with default settings)")
    info = _results.machine()
    say(
        f"jetjobs memory bench — {info['cpus']} CPUs, Python {info['python']}, nats-server "
        f"{info['nats_server']}, jetjobs {info['jetjobs']} ({info['commit']})\n"
        f"worker RSS draining a {args.small:,}-job backlog, then a {args.large:,}-job one\n"
    )
    started = time.monotonic()
    small = measure(args.small, args.small, args, FALLBACK_BYTES_PER_JOB)
    large = measure(args.large, args.drain, args, max(small["store_bytes"] / args.small, 256.0))
    ratio = large["peak_rss_kb"] / small["peak_rss_kb"]
    say("")
    say(table(small, large, ratio))
    say("")
    say(curve(small))
    say(curve(large))
    say("")
    for key, text in notes(args, large).items():
        say(f"  {key}: {text}")
    document = {
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(time.monotonic() - started, 1),
        "machine": info,
        "params": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "result": {"peak_ratio": ratio, "bound": BOUND, "pass": ratio <= BOUND},
        "small": small,
        "large": large,
        "notes": notes(args, large),
    }
    _results.write_json(args.json, document)
    say(f"\nresults: {args.json} ({document['seconds']:.0f}s)")
    return 1 if args.check and ratio > BOUND else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
