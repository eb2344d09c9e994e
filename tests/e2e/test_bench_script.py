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
    # (server CPU per job is left out when 300 jobs took less than a clock tick of the server's CPU)
    assert set(results) - {"server_cpu"} == {
        "enqueue_one",
        "enqueue_bulk",
        "drain",
        "drain_nostore",
        "tracing",
        "latency_p50",
        "latency_p99",
    }
    assert all(row["pass"] in (True, False) and row["target"] for row in results.values())
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
    assert "PASS" in result.stdout or "FAIL" in result.stdout
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


def test_memory_bench_drains_both_backlogs_and_compares_the_peaks(tmp_path: Path) -> None:
    out_file = tmp_path / "memory.json"
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("JETJOBS_")}
    args = ["--small", "1000", "--large", "2500", "--json", str(out_file)]
    result = subprocess.run(
        [sys.executable, "bench/memory.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(out_file.read_text())
    small, large = document["small"], document["large"]
    assert (small["backlog"], small["drained"]) == (1000, 1000)
    assert (large["backlog"], large["drained"]) == (2500, 2500)  # the last start is reported too
    for run in (small, large):
        assert run["samples"]
        assert run["peak_rss_kb"] >= run["max_sampled_rss_kb"] > 10_000  # VmHWM covers every sample
        assert 0 < run["max_awaiting_answer"] <= 1024  # the settler's bound (MAX_UNCONFIRMED)
    assert document["result"]["peak_ratio"] == large["peak_rss_kb"] / small["peak_rss_kb"]
    assert "peak (VmHWM)" in result.stdout
    assert "2,500 jobs were waiting when the worker started" in result.stdout
