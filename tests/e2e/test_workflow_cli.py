"""``jetjobs workflow ...`` as a user runs it: a worker process with the order-processing
tasks, and the CLI in processes of its own that import no task code (only the server URL)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from jetjobs.testing import NatsServer
from tests.conftest import ROOT
from tests.e2e.conftest import StartWorker
from tests.e2e.test_cli import jetjobs

APP = "tests.e2e.workflow_app:app"
STEPS = ("validate-order", "process-payment", "fulfill-order")


def ok(server: NatsServer, *args: str) -> str:
    result = jetjobs(server, "workflow", *args)
    assert result.returncode == 0, f"workflow {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout


def test_run_wait_status_logs_list_and_cancel_of_an_ended_run(
    jetjobs_server: NatsServer, start_worker: StartWorker
) -> None:
    start_worker(app=APP)
    done = jetjobs(jetjobs_server, "workflow", "run", "order-processing", "--input", '{"order_id": "o-1"}', "--wait")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == "shipped o-1"
    assert "Traceback" not in done.stderr
    (started,) = [line for line in done.stderr.splitlines() if line.startswith("run ")]
    run_id = started.split()[1]  # "run <id> of order-processing started; waiting up to 60s"
    assert started == f"run {run_id} of order-processing started; waiting up to 60s"

    status = ok(jetjobs_server, "status", run_id)
    assert status.splitlines()[0] == f"run {run_id}: succeeded"
    assert "order-processing v1.0" in status
    assert "2  [process-payment: succeeded]  <- validate-order" in status
    assert "3  [fulfill-order: succeeded]    <- process-payment" in status
    assert "[compensate-process-payment: not run]  undoes process-payment" in status  # not needed
    table = status.split("\n\n")[-1].splitlines()
    assert table[0].split() == ["STEP", "TASK", "STATE", "ATTEMPTS", "STARTED", "TOOK"]
    rows = [row.split() for row in table[1:]]
    assert [row[:2] for row in rows] == [[step, step.replace("-", "_")] for step in STEPS]
    assert all(row[2:4] == ["succeeded", "1"] for row in rows)
    for row in rows:  # the time of day it started (the run's date is in the head) and how long it took
        assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", row[4]), row
        assert row[-1] in ("ms", "s"), row  # "12 ms", "<1 ms", "1.20 s"
        assert len(row) == 7, row
    assert re.search(r"^  started: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC  finished: .* UTC  \(took ", status, re.M)

    as_json = json.loads(ok(jetjobs_server, "status", run_id, "--json"))
    assert as_json["run_id"] == run_id
    assert as_json["state"] == "succeeded"
    assert {name: step["state"] for name, step in as_json["steps"].items()} == dict.fromkeys(STEPS, "succeeded")
    assert as_json["steps"]["process-payment"]["output"] == {"payment_id": "pay-o-1", "charged": 42.5}

    logs = ok(jetjobs_server, "logs", run_id).splitlines()
    assert "run_started: order-processing v1.0" in logs[0]
    assert logs[-1].endswith("run_succeeded")
    assert sum(" step_succeeded " in line for line in logs) == 3
    assert ok(jetjobs_server, "logs", run_id, "--follow").splitlines() == logs  # ends with the run

    listing = ok(jetjobs_server, "list")
    assert listing.splitlines()[0].split()[:4] == ["RUN", "WORKFLOW", "VERSION", "STATE"]
    (row,) = [line for line in listing.splitlines() if line.startswith(run_id)]
    assert row.split()[1:5] == ["order-processing", "1.0", "succeeded", "3/3"]
    runs = json.loads(ok(jetjobs_server, "list", "--name", "order-processing", "--json"))
    assert [r["run_id"] for r in runs] == [run_id]
    assert ok(jetjobs_server, "list", "--state", "failed").strip() == "no workflow runs with state=failed"

    cancel = jetjobs(jetjobs_server, "workflow", "cancel", run_id)
    assert cancel.returncode == 1
    assert cancel.stdout.strip() == f"run {run_id} had already ended (succeeded): nothing to cancel"


def test_a_failed_run_exits_1_and_its_status_shows_the_refund(
    jetjobs_server: NatsServer, start_worker: StartWorker
) -> None:
    start_worker(app=APP)
    failed = jetjobs(
        jetjobs_server, "workflow", "run", "order-processing", "--input", '{"order_id": "nostock-1"}',
        "--run-id", "nostock-1", "--wait",
    )  # fmt: skip
    assert failed.returncode == 1
    assert failed.stdout == ""
    error = failed.stderr.strip().splitlines()[-1]
    assert error == (
        "jetjobs: error: workflow run nostock-1 compensated: step 'fulfill-order' raised "
        "tests.workflow.orders.PaymentDeclined: out of stock"
    )
    assert "Traceback" not in failed.stderr

    status = ok(jetjobs_server, "status", "nostock-1")
    assert status.splitlines()[0] == "run nostock-1: compensated"
    for line in ("cause: failed", "failed step: fulfill-order", "compensation: undoes process-payment"):
        assert f"  {line}\n" in status
    assert "  error: tests.workflow.orders.PaymentDeclined: out of stock\n" in status
    assert "3  [fulfill-order: failed]" in status
    assert "[compensate-process-payment: succeeded]  undoes process-payment" in status
    (refund,) = [line for line in status.splitlines() if line.startswith("compensate-process-payment ")]
    assert refund.split()[1:4] == ["refund_payment", "succeeded", "1"]

    kinds = [line.split()[1].rstrip(":") for line in ok(jetjobs_server, "logs", "nostock-1").splitlines()]
    assert kinds[0] == "run_started"
    assert kinds[-1] == "run_compensated"
    assert kinds.index("step_failed") < kinds.index("compensating") < kinds.index("run_compensated")
    assert ok(jetjobs_server, "list", "--state", "compensated").count("nostock-1") == 1


def test_cancel_a_waiting_run_and_one_line_errors(jetjobs_server: NatsServer) -> None:
    # No worker: --app publishes the definition; its first step waits in the queue.
    started = jetjobs(
        jetjobs_server, "workflow", "run", "order-processing", "--app", APP, "--input", '{"order_id": "o-2"}',
        "--run-id", "waiting-1",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "waiting-1"
    assert ok(jetjobs_server, "cancel", "waiting-1").strip() == "cancelled run waiting-1"
    status = ok(jetjobs_server, "status", "waiting-1")
    assert status.splitlines()[0] == "run waiting-1: cancelled"
    assert "[fulfill-order: pending]" in status
    assert ok(jetjobs_server, "logs", "waiting-1").splitlines()[-1].endswith("run_cancelled")
    again = jetjobs(jetjobs_server, "workflow", "cancel", "waiting-1")
    assert again.returncode == 1
    assert again.stdout.strip() == "run waiting-1 had already ended (cancelled): nothing to cancel"

    for command in ("status", "logs", "cancel"):
        missing = jetjobs(jetjobs_server, "workflow", command, "no-such-run")
        assert missing.returncode == 1, command
        assert missing.stderr.strip() == (
            "jetjobs: error: no workflow run 'no-such-run' (never started, or expired after its retention)"
        )
    unknown = jetjobs(jetjobs_server, "workflow", "run", "no-such-workflow")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == (
        "jetjobs: error: no workflow 'no-such-workflow' is declared here or registered on the server"
    )
    bad = jetjobs(jetjobs_server, "workflow", "run", "order-processing", "--input", "{order_id: 1}")
    assert bad.returncode == 2
    assert bad.stderr.startswith("jetjobs: error: --input is not valid JSON")
    assert "'{order_id: 1}'" in bad.stderr
    assert jetjobs(jetjobs_server, "workflow", "list", "--state", "done").returncode == 2  # not a run state


def test_logs_follow_prints_a_live_run_until_it_ends(jetjobs_server: NatsServer, start_worker: StartWorker) -> None:
    started = jetjobs(
        jetjobs_server, "workflow", "run", "order-processing", "--app", APP, "--input", '{"order_id": "flaky-3"}',
        "--run-id", "live-1",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("JETJOBS_")}
    env.update(PYTHONPATH=ROOT, JETJOBS_NATS_URL=jetjobs_server.url)
    command = [sys.executable, "-m", "jetjobs", "workflow", "logs", "live-1", "--follow"]
    follow = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert follow.stdout is not None
        lines = [follow.stdout.readline(), follow.stdout.readline()]  # printed before any worker runs
        assert "run_started" in lines[0]
        assert lines[1].rstrip().endswith("step_queued validate-order")
        start_worker(app=APP)  # now the run goes on while the command follows it
        out, err = follow.communicate(timeout=60)
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    assert follow.returncode == 0, err
    assert "Traceback" not in err  # the subscription is closed before the connection
    lines += out.splitlines(keepends=True)
    assert lines[-1].rstrip().endswith("run_succeeded")
    assert sum(" step_retrying process-payment (attempt " in line for line in lines) == 2  # flaky: 2 gateway timeouts
