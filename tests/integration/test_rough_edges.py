"""What a new user hits first: each rough edge is one clear jetjobs error or message."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from jetjobs import App, ConfigError, ConnectionFailed, QueueFull, ResultTimeout
from jetjobs.cli import main
from jetjobs.testing import NatsServer
from tests.helpers import AppFactory, eventually


async def test_status_and_first_enqueue_after_server_loss_say_unreachable_since(tmp_path: Path) -> None:
    with NatsServer(store_dir=tmp_path) as server:
        app = App("lost", nats_url=server.url, request_timeout_s=0.5)
        await app.connect()
        try:
            server.stop(kill=True)
            await eventually(lambda: not app.link.connected, timeout_s=10)
            with pytest.raises(ConnectionFailed, match=r"is unreachable since \d{4}-\d\d-\d\d [\d:]+ UTC"):
                await app.status("some-job")
            with pytest.raises(ConnectionFailed, match=f"NATS server at {server.url} is unreachable since"):
                await app.enqueue("send", queue="emails")
        finally:
            await app.close()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://127.0.0.1:4222", "has the scheme 'http://'"),
        ("nats://", "names no host"),
        ("nats://:4222", "names no host"),
        ("nats://127.0.0.1:notaport", "is not a URL"),
    ],
)
def test_bad_url_fails_at_once_with_the_accepted_forms(url: str, problem: str) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError, match=problem) as error:
        App("bad", nats_url=url)
    assert "accepted forms: nats://host:4222, tls://host:4222" in str(error.value)
    assert time.monotonic() - started < 1


def test_accepted_url_forms() -> None:
    for url in ("nats://a:4222", "tls://a:4222", "ws://a:8080", "wss://a", "a:4222", "nats://u:p@a:4222"):
        App("ok", nats_url=url)


def test_cli_hint_uses_option_spelling(jetjobs_server: NatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["enqueue", "nowhere_task", "--nats-url", jetjobs_server.url]) == 1
    err = capsys.readouterr().err
    assert "--queue QUEUE" in err
    assert "queue=" not in err


def test_unknown_attribute_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "tests.apps.e2e:nope"]) == 1
    err = capsys.readouterr().err
    assert "module 'tests.apps.e2e' has no attribute 'nope'; it has tests.apps.e2e:app" in err


def test_tasks_of_an_empty_app_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "tests.apps.empty:app"]) == 0
    assert "tests.apps.empty:app registers no tasks" in capsys.readouterr().out


async def test_queue_full_says_the_limit(app_factory: AppFactory) -> None:
    worker_side = app_factory(queues={"tiny": {"max_length": 2}})
    producer = app_factory()
    async with worker_side, producer:
        await worker_side.provision(["tiny"])
        for _ in range(2):
            await producer.enqueue("t", queue="tiny")
        with pytest.raises(QueueFull, match=r"queue 'tiny' is full: it holds max_length=2 jobs"):
            await producer.enqueue("t", queue="tiny")


async def test_result_of_an_id_that_never_existed_says_so(app_factory: AppFactory) -> None:
    async with app_factory() as app:
        with pytest.raises(ResultTimeout, match="no job 'never-enqueued' is stored"):
            await app.result("never-enqueued", timeout_s=0.3)
