"""``make chaos``: every fault scenario of issue 9, with the figures and the targets.

Scenarios: a worker SIGKILL loop, a server kill/restart, a 3-node cluster on loopback
with leader step-downs and leader kills of the queue stream, the status bucket, the
dead-letter stream and the advisory stream, and the big fuzz corpus. Each prints
enqueued, acknowledged, executed, lost, duplicated, results missing and the longest
stall; the exit status is 1 when a target is missed (0 lost, 0 results missing, no
stall over 10 s, every job acknowledged).

    .venv/bin/python -m bench.chaos            # the long run (several minutes)
    .venv/bin/python -m bench.chaos --short    # one small scenario of each kind
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import subprocess
import sys
import time

from bench._chaos import HEADER, Fault, Tally, kill_leader, restart_server, run_scenario, step_down, stream_names
from bench._chaos_procs import worker_kill_loop
from jetjobs import App
from jetjobs.testing import NatsCluster, NatsServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cluster_faults(cluster: NatsCluster, stream: str, *, step_downs: int, kills: int) -> list[Fault]:
    faults = [step_down(cluster.urls, stream, after_s=1.5) for _ in range(step_downs)]
    faults += [kill_leader(cluster, stream, after_s=1.5) for _ in range(kills)]
    return faults


async def cluster_scenario(cluster: NatsCluster, target: str, *, jobs: int, step_downs: int, kills: int) -> Tally:
    """Jobs on an R3 cluster while ``target``'s stream leader steps down and is killed; then a
    fresh provisioning (what a new worker does) must succeed."""
    namespace = f"c{target}{int(time.time()) % 10_000}"
    stream = stream_names(namespace)[target]
    tally = await run_scenario(
        f"3-node cluster: {target} leader",
        cluster.urls,
        jobs=jobs,
        namespace=namespace,
        replicas=3,
        faults=cluster_faults(cluster, stream, step_downs=step_downs, kills=kills),
    )
    tally.notes.append(await new_worker_starts(cluster.urls, namespace))
    print(tally.line(), flush=True)
    return tally


async def new_worker_starts(urls: str, namespace: str, timeout_s: float = 60.0) -> str:
    """What a worker started right after the faults does (connect, provision), retried as its
    supervisor would restart it; says how long it took."""
    began = time.monotonic()
    failures: list[str] = []
    while True:
        fresh = App("chaos-new-worker", nats_url=urls, namespace=namespace, replicas=3)
        try:
            async with fresh:
                await fresh.provision(["chaos"])
            break
        except Exception as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
            if time.monotonic() - began > timeout_s:
                return f"a new worker could NOT start within {timeout_s:.0f}s: {failures[-1]}"
            await asyncio.sleep(1.0)
    took = time.monotonic() - began
    tail = f" after {len(failures)} failed starts (first: {failures[0]})" if failures else ""
    return f"a new worker started in {took:.2f}s{tail}"


async def single_server(jobs: int, kills: int) -> list[Tally]:
    with NatsServer() as server:
        loop = await worker_kill_loop(server.url, jobs=jobs, kills=kills)
        restart = await run_scenario(
            "server kill/restart",
            server.url,
            jobs=jobs,
            namespace="srv",
            faults=[restart_server(server, after_s=1.5) for _ in range(max(1, kills // 2))],
        )
    print(loop.line(), flush=True)
    print(restart.line(), flush=True)
    return [loop, restart]


async def on_cluster(jobs: int, step_downs: int, kills: int) -> list[Tally]:
    tallies = []
    with NatsCluster(3) as cluster:
        for target in ("queue", "status", "dlq", "advisory"):
            tallies.append(await cluster_scenario(cluster, target, jobs=jobs, step_downs=step_downs, kills=kills))
            for server in cluster.servers:  # a killed server is back before the next scenario
                if not server.running:
                    server.start()
    return tallies


def fuzz(messages: int) -> Tally:
    """tests/integration/test_fuzz.py's big run: ``messages`` fuzzed messages among good jobs."""
    tally = Tally(f"fuzz corpus ({messages} messages)")
    env = {**os.environ, "CHAOS_FUZZ": str(messages)}
    began = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/integration/test_fuzz.py",
            "-k",
            "big",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    tally.notes += [line for line in lines[:-1] if not line.startswith(".")][-3:]  # the run's report line
    tally.notes.append(f"pytest exit {result.returncode} in {time.monotonic() - began:.0f}s")
    # The row counts the good jobs among the fuzz (the bad messages are in the note).
    good = re.search(r"(\d+)/(\d+) good jobs ran", result.stdout)
    missing = re.search(r"(\d+) missing\)", result.stdout)
    if good is not None:
        ran, total = int(good[1]), int(good[2])
        tally.enqueued, tally.executed = total, ran
        tally.acknowledged = ran if result.returncode == 0 else 0
        tally.lost = total - ran + (int(missing[1]) if missing is not None else 0)
    if result.returncode != 0:
        tally.lost = -1  # marks the scenario as missed; the notes say why
        tally.notes += lines[-15:]
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--short", action="store_true", help="one small scenario of each kind (about a minute)")
    parser.add_argument("--skip-fuzz", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    jobs, kills, step_downs, messages = (400, 2, 1, 1000) if args.short else (3000, 6, 3, 10_000)
    print(HEADER, flush=True)
    tallies = asyncio.run(single_server(jobs, kills))
    tallies += asyncio.run(on_cluster(jobs, step_downs, max(1, kills // 3)))
    if not args.skip_fuzz:
        tallies.append(fuzz(messages))
    print("\nsummary\n" + HEADER)
    for tally in tallies:
        print(tally.line())
    print()
    for tally in tallies:
        for note in tally.notes:
            print(f"  {tally.scenario}: {note}")
    missed = [t.scenario for t in tallies if not t.meets_targets()]
    print(
        f"\ntargets: 0 lost, 0 results missing, every job acked, no stall over 10 s: {'MISSED by ' if missed else ''}"
        f"{', '.join(missed) if missed else 'met in every scenario'}"
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
