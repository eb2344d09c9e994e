"""``jetjobs jobs list``, ``jetjobs workers`` and ``jetjobs status --follow`` as an operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from jetjobs.testing import NatsServer
from tests.conftest import ROOT
from tests.e2e.conftest import StartWorker
from tests.e2e.test_cli import jetjobs


def test_jobs_list_workers_and_follow(jetjobs_server: NatsServer, start_worker: StartWorker) -> None:
    start_worker()
    ok = json.loads(
        jetjobs(jetjobs_server, "enqueue", "record", "--kwargs", '{"n": 1}', "--queue", "work", "--json").stdout
    )
    jetjobs(jetjobs_server, "enqueue", "fail", "--args", '["nope"]', "--queue", "work", "--job-id", "bad-1", "--wait")

    followed = jetjobs(jetjobs_server, "status", ok["job_id"], "--follow", "--json")
    assert followed.returncode == 0, followed.stderr
    states = [json.loads(line)["state"] for line in followed.stdout.splitlines()]
    assert states[-1] == "succeeded"
    failed_follow = jetjobs(jetjobs_server, "status", "bad-1", "--follow")
    assert failed_follow.returncode == 1  # the job ended failed
    assert "failed" in failed_follow.stdout
    assert "RuntimeError: nope" in failed_follow.stdout

    page = json.loads(jetjobs(jetjobs_server, "jobs", "list", "--queue", "work", "--state", "failed", "--json").stdout)
    assert [j["id"] for j in page["jobs"]] == ["bad-1"]
    table = jetjobs(jetjobs_server, "jobs", "list", "--queue", "work").stdout.splitlines()
    assert table[0].split() == ["JOB", "ID", "STATE", "TASK", "QUEUE", "ATTEMPTS", "UPDATED", "ERROR"]
    assert {line.split()[0] for line in table[1:-1]} == {ok["job_id"], "bad-1"}
    assert table[-1].startswith("2 jobs, ")
    assert "\x1b[" not in "\n".join(table)  # no colours in a pipe

    (worker,) = json.loads(jetjobs(jetjobs_server, "workers", "--json").stdout)
    assert set(worker["queues"]) == {"capped", "work"}
    assert worker["stale"] is False


def test_every_read_command_has_json(jetjobs_server: NatsServer) -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("JETJOBS_")}
    for command in (
        ["queues"],
        ["dlq", "list"],
        ["schedules", "list"],
        ["jobs", "list"],
        ["workers"],
        ["tasks", "tests.apps.e2e:app"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "jetjobs", *command, "--json"]
            + ([] if command[0] == "tasks" else ["--nats-url", jetjobs_server.url]),
            cwd=ROOT,
            env={**env, "PYTHONPATH": ROOT},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, (command, result.stderr)
        json.loads(result.stdout)
