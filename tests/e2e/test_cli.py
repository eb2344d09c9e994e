"""The jetjobs command, run as a user would: separate processes, real server."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from jetjobs import App
from jetjobs.testing import NatsServer
from tests.conftest import ROOT
from tests.e2e.conftest import StartWorker


def jetjobs(
    server: NatsServer | None, *args: str, timeout_s: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    extra = env or {}
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("JETJOBS_")}
    env.update(extra)
    env["PYTHONPATH"] = ROOT
    if server is not None:
        env["JETJOBS_NATS_URL"] = server.url
    return subprocess.run(
        [sys.executable, "-m", "jetjobs", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def test_tasks_lists_queues_and_settings() -> None:
    result = jetjobs(None, "tasks", "tests.apps.e2e:app", "--json")
    assert result.returncode == 0, result.stderr
    tasks = {t["name"]: t for t in json.loads(result.stdout)}
    assert tasks["record"]["queue"] == "work"
    assert tasks["record"]["max_retries"] == 5
    assert tasks["capped"]["queue"] == "capped"
    assert tasks["record"]["kind"] == "async"
    table = jetjobs(None, "tasks", "tests.apps.e2e:app").stdout
    assert table.splitlines()[0].split()[:3] == ["TASK", "QUEUE", "PRIORITY"]


def test_provision_creates_streams_and_consumers(jetjobs_server: NatsServer) -> None:
    result = jetjobs(jetjobs_server, "provision", "tests.apps.e2e:app")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "provisioned 2 queues: capped, work"
    queues = json.loads(jetjobs(jetjobs_server, "queues", "--json").stdout)
    assert {q["queue"] for q in queues} == {"capped", "work"}
    assert {c["priority"] for c in queues[0]["consumers"]} == {"high", "normal", "low"}


def test_enqueue_wait_status_queues_and_dead_letters(jetjobs_server: NatsServer, start_worker: StartWorker) -> None:
    start_worker()
    done = jetjobs(jetjobs_server, "enqueue", "record", "--kwargs", '{"n": 5}', "--queue", "work", "--wait", "--json")
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["result"] == 5

    later = jetjobs(jetjobs_server, "enqueue", "record", "--kwargs", '{"n": 6}', "--queue", "work", "--delay", "1s")
    assert ", due in 1s" in later.stdout
    delayed = jetjobs(jetjobs_server, "status", later.stdout.split()[1], "--json")
    assert json.loads(delayed.stdout)["state"] in ("scheduled", "queued", "running", "succeeded")

    status = jetjobs(jetjobs_server, "status", job["job_id"])
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith(f"{job['job_id']}: succeeded")

    failed = jetjobs(jetjobs_server, "enqueue", "fail", "--args", '["boom"]', "--queue", "work", "--wait")
    assert failed.returncode == 1
    assert failed.stderr.strip().startswith("jetjobs: error: job ")
    assert "RuntimeError: boom" in failed.stderr
    assert "Traceback" not in failed.stderr  # one line, not a traceback

    listing = json.loads(jetjobs(jetjobs_server, "dlq", "list", "--json").stdout)
    (dead,) = listing
    assert (dead["task"], dead["queue"], dead["error_message"]) == ("fail", "work", "boom")
    shown = jetjobs(jetjobs_server, "dlq", "show", str(dead["seq"]))
    assert "RuntimeError: boom" in shown.stdout
    assert "traceback:" in shown.stdout

    queues = jetjobs(jetjobs_server, "queues")
    work = next(line for line in queues.stdout.splitlines() if line.startswith("work "))
    assert work.split()[3] == "1"  # DEAD column

    replay = jetjobs(jetjobs_server, "dlq", "replay", str(dead["seq"]))
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout.startswith(f"replayed dead letter {dead['seq']} as job {dead['job_id']}")


def test_errors_are_one_clear_line(jetjobs_server: NatsServer) -> None:
    cases = [
        (("worker", "no.such.module:app"), "cannot import 'no.such.module'"),
        (("worker", "tests.apps.e2e:nothing"), "module 'tests.apps.e2e' has no attribute 'nothing'"),
        (("worker", "tests.apps.e2e:asyncio"), "is not a jetjobs App (found module)"),
        (("enqueue", "record", "--kwargs", "{not json", "--queue", "work"), "--kwargs is not valid JSON"),
        (("enqueue", "record", "--kwargs", "[1]", "--queue", "work"), "--kwargs must be a JSON object"),
        (("enqueue", "mystery"), "pass --queue QUEUE"),
        (("status", "nope"), "no status for job 'nope'"),
        (("enqueue", "record", "--delay", "soon", "--queue", "work"), "invalid duration 'soon'"),
        (("dlq", "show", "99"), "no dead letter with sequence 99"),
    ]
    for args, message in cases:
        result = jetjobs(jetjobs_server, *args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, result.stderr)
        assert lines[0].startswith("jetjobs: error: ")
        assert message in lines[0], (args, lines[0])


def test_unreachable_server_and_config_typos() -> None:
    env_typo = {k: v for k, v in os.environ.items() if not k.upper().startswith("JETJOBS_")}
    env_typo.update(PYTHONPATH=ROOT, JETJOBS_NATS_URLL="nats://127.0.0.1:4222")
    typo = subprocess.run(
        [sys.executable, "-m", "jetjobs", "status", "x"],
        cwd=ROOT,
        env=env_typo,
        capture_output=True,
        text=True,
    )
    assert typo.returncode == 1
    assert typo.stderr.strip() == (
        "jetjobs: error: unknown setting JETJOBS_NATS_URLL in the environment; did you mean JETJOBS_NATS_URL?"
    )
    unreachable = jetjobs(None, "status", "x", "--nats-url", "nats://127.0.0.1:9")
    assert unreachable.returncode == 1
    assert "cannot reach NATS at nats://127.0.0.1:9" in unreachable.stderr


def test_cancel_a_delayed_job_with_or_without_its_status_record(jetjobs_server: NatsServer) -> None:
    def enqueue_later() -> str:
        later = jetjobs(jetjobs_server, "enqueue", "record", "--kwargs", '{"n": 7}', "--queue", "work", "--delay", "1h")
        assert later.returncode == 0, later.stderr
        return later.stdout.split()[1]

    job_id = enqueue_later()
    assert jetjobs(jetjobs_server, "cancel", job_id).stdout.strip() == f"cancelled {job_id}"
    again = jetjobs(jetjobs_server, "cancel", job_id)
    assert (again.returncode, again.stdout.strip()) == (
        1,
        f"job {job_id} is cancelled: it has ended, nothing to cancel",
    )

    # A delay longer than result_ttl_s: the record expires first; the queue is enough.
    job_id = enqueue_later()
    asyncio.run(_forget_status(jetjobs_server, job_id))
    lost = jetjobs(jetjobs_server, "cancel", job_id)
    assert lost.returncode == 1
    assert "give --queue to cancel a delayed job whose record has expired" in lost.stderr
    assert jetjobs(jetjobs_server, "cancel", job_id, "--queue", "work").stdout.strip() == f"cancelled {job_id}"
    gone = jetjobs(jetjobs_server, "cancel", job_id, "--queue", "work")
    assert (gone.returncode, gone.stdout.strip()) == (
        1,
        f"job {job_id} is not waiting in queue work and has no status record",
    )


async def _forget_status(server: NatsServer, job_id: str) -> None:
    async with App("reader", nats_url=server.url) as app:
        await app.status_store.kv.delete(job_id)


async def test_worker_discover_runs_tasks_of_the_pattern(jetjobs_server: NatsServer, start_worker: StartWorker) -> None:
    worker = start_worker("--discover", "tests.apps.discover_pkg.*", app="tests.apps.empty:app")
    async with App("producer", nats_url=jetjobs_server.url) as producer:
        job = await producer.enqueue("send_mail", kwargs={"to": "grace"})  # queue from the catalog
        assert job.queue == "mail"
        assert await job.result(timeout_s=20) == "mailed grace"
    assert "queues mail(" in worker.log()


def test_worker_discover_names_a_module_that_fails(jetjobs_server: NatsServer) -> None:
    result = jetjobs(jetjobs_server, "worker", "tests.apps.empty:app", "--discover", "tests.apps.discover_broken.*")
    assert result.returncode == 1
    assert "cannot import module 'tests.apps.discover_broken.bad'" in result.stderr
