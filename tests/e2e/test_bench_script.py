"""`make bench` keeps working: the script runs every phase end to end (tiny numbers, no timing asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_bench_runs_every_phase_and_writes_its_results(tmp_path: Path) -> None:
    out_file = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("JETJOBS_")}
    args = ["--n", "300", "--latency-samples", "20", "--latency-warmup", "5", "--repeat", "1"]
    result = subprocess.run(
        [sys.executable, "bench/run.py", *args, "--noise-retries", "0", "--json", str(out_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(out_file.read_text())
    results = document["results"]
    assert set(results) == {"enqueue_one", "enqueue_bulk", "drain", "latency_p50", "latency_p99"}
    for row in results.values():
        assert row["jetjobs"] > 0
        assert row["plain"] > 0
        assert row["ratio"] == row["jetjobs"] / row["plain"]
    tracing = document["details"]["tracing"]
    for side in ("off", "on"):
        assert tracing[side][0]["drain"]["count"] == 300
        assert tracing[side][0]["enqueue_bulk"]["rate"] > 0
    assert tracing["off"][0]["enqueue_bulk"]["spans"] == 0
    assert tracing["on"][0]["enqueue_bulk"]["spans"] == 301  # a PRODUCER span per job, warm-up included
    assert "jetjobs ÷ plain" in result.stdout
    assert "on ÷ off" in result.stdout
    processes = document["details"]["processes"]
    for side, count in (("1 process", 1), ("2 processes", 2)):
        run = processes[side][0]
        assert run["count"] == 300
        assert sum(run["per_process"].values()) == 300
        assert 1 <= len(run["per_process"]) <= count
    assert "2 processes ÷ 1" in result.stdout


def test_workflow_bench_runs_every_figure() -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("JETJOBS_")}
    args = ["--width", "30", "--chain", "3", "--samples", "10", "--items", "300"]
    result = subprocess.run(
        [sys.executable, "bench/workflows.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for figure in ("fan-in of 30", "chain of 3 steps", "chord of 30", "BatchTask, 300 items"):
        assert figure in result.stdout
    assert "callbacks fired: 2" in result.stdout
