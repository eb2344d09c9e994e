"""What tracing costs: jetjobs with tracing on next to the same with tracing off.

Both sides are jetjobs with default settings; "on" installs an OpenTelemetry SDK
(``telemetry.configure`` with the batch span processor and an exporter that drops
the batches) in the producer and the worker process. One run: a producer process
enqueues N jobs (PRODUCER spans, trace context in the headers), then a worker
process drains them (a CONSUMER span per job, parented by that context).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from jetjobs.testing import NatsServer

from ._meters import cpu_seconds
from ._procs import ROOT, child_env, child_process, jetjobs_worker_command
from ._reports import drain_result, report_inbox

WORKER = jetjobs_worker_command("bench.tasks:app")


def _fill(server: NatsServer, n: int, chunk: int, tracing: bool) -> dict[str, float]:
    assert server.pid is not None
    env = child_env(server.url, n=str(n), chunk=str(chunk), tracing="1" if tracing else "0")
    server_cpu = cpu_seconds(server.pid)
    done = subprocess.run(
        [sys.executable, "-m", "bench.fill"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.fill failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    result["server_cpu_us"] = 1e6 * (cpu_seconds(server.pid) - server_cpu) / n
    return result


async def run(server: NatsServer, n: int, chunk: int, tracing: bool) -> dict[str, Any]:
    """Enqueue n jobs from a producer process, then drain them with a worker process."""
    assert server.pid is not None
    enqueue = _fill(server, n, chunk, tracing)
    with tempfile.TemporaryDirectory(prefix="bench-tracing-") as tmp:
        async with report_inbox() as inbox:
            env = child_env(server.url, report_addr=inbox.addr, mode="drain", expect=str(n))
            env["BENCH_TRACING"] = "1" if tracing else "0"
            server_cpu = cpu_seconds(server.pid)
            with child_process(WORKER, env, Path(tmp) / "worker.log") as child:
                report = await inbox.next(child, timeout_s=60 + n / 200)
                server_cpu = cpu_seconds(server.pid) - server_cpu
    return {"enqueue_bulk": enqueue, "drain": drain_result(report, server_cpu)}
