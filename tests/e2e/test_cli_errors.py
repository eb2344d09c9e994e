"""The jetjobs command names the real cause of a failure, and refuses bad options before publishing."""

from __future__ import annotations

import asyncio

import nats
import nats.js.errors

from jetjobs.testing import NatsServer
from tests.e2e.test_cli import jetjobs


def test_enqueue_wait_with_a_negative_timeout_is_refused_before_publishing(jetjobs_server: NatsServer) -> None:
    result = jetjobs(jetjobs_server, "enqueue", "record", "--queue", "work", "--wait", "--timeout-s", "-1")
    assert result.returncode == 1
    assert result.stderr.strip() == "jetjobs: error: --timeout-s must be a number of seconds > 0, got -1"

    async def stream_exists() -> bool:
        nc = await nats.connect(jetjobs_server.url)
        try:
            await nc.jetstream().stream_info("JOBS_work")
            return True
        except nats.js.errors.NotFoundError:
            return False
        finally:
            await nc.close()

    assert not asyncio.run(stream_exists())  # nothing was published (the stream is created on first use)


def test_worker_with_an_unreachable_server_says_so() -> None:
    result = jetjobs(
        None, "worker", "tests.apps.e2e:app", "--nats-url", "nats://127.0.0.1:9", env={"JETJOBS_CONNECT_TIMEOUT_S": "1"}
    )
    assert result.returncode == 1
    assert "cannot reach NATS at nats://127.0.0.1:9 within 1s (connection refused)" in result.stderr
    assert "not connected" not in result.stderr


def test_worker_with_a_wrong_password_says_so() -> None:
    with NatsServer(extra_args=("--user", "worker", "--pass", "right")) as server:
        result = jetjobs(
            None,
            "worker",
            "tests.apps.e2e:app",
            "--nats-url",
            server.url,
            env={"JETJOBS_NATS_USER": "worker", "JETJOBS_NATS_PASSWORD": "wrong"},
        )
    assert result.returncode == 1
    assert f"NATS at {server.url} refused the credentials" in result.stderr
    assert "not connected" not in result.stderr
