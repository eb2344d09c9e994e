"""Registering by dotted path, bulk registration, routes and discovering task modules by pattern."""

from __future__ import annotations

import re

import pytest

from jetjobs import App, ConfigError
from jetjobs.cli._common import load_app
from tests.helpers import AppFactory, running_worker

PKG = "tests.apps.discover_pkg"


def test_register_by_dotted_path_and_bulk() -> None:
    app = App("reg")
    task = app.register(f"{PKG}.sms.plain_ping", queue="pings", max_retries=2)
    assert task.name == "plain_ping"
    assert task(1) == 2
    tasks = app.bulk_register([f"{PKG}.sms:plain_pong", f"{PKG}.sms.send_sms"], queue="bulk")
    assert [t.name for t in tasks] == ["plain_pong", "send_sms"]
    routes = app.routes()
    assert routes["plain_ping"]["queue"] == "pings"
    assert routes["plain_ping"]["max_retries"] == 2
    assert routes["plain_pong"]["queue"] == "bulk"
    assert routes["send_sms"]["queue"] == "bulk"  # the option given overrides the declaration
    assert routes["send_sms"]["priority"] == "high"  # the rest of it is kept
    assert app.periodic_tasks() == {}


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("nowhere.at.all", "cannot import module 'nowhere.at'"),
        (f"{PKG}.sms.missing", f"module '{PKG}.sms' has no attribute 'missing'"),
        ("send_email", "is not a dotted path"),
        (f"{PKG}.sms.other", "is not a function (found App)"),
    ],
)
def test_register_errors_name_the_path(path: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(problem)):
        App("reg").register(path)


def test_discover_by_pattern_module_and_list() -> None:
    app = App("finder")
    assert app.discover_tasks(f"{PKG}.*") == ["send_mail", "send_sms"]
    assert app.routes()["send_mail"] == {**app.routes()["send_mail"], "queue": "mail", "max_retries": 4}
    assert app.routes()["send_sms"]["priority"] == "high"
    assert "deep_task" not in app.tasks  # one level only
    assert App("all").discover_tasks(f"{PKG}.**") == ["deep_task", "send_mail", "send_sms"]
    assert App("one").discover_tasks(f"{PKG}.mail") == ["send_mail"]
    assert App("list").discover_tasks([f"{PKG}.mail", f"{PKG}.sub.deep"]) == ["deep_task", "send_mail"]
    assert app.discover_tasks(f"{PKG}.*") == ["send_mail", "send_sms"]  # again: nothing registered twice


def test_a_module_that_fails_to_import_is_one_error_naming_it() -> None:
    with pytest.raises(ConfigError) as error:
        App("broken").discover_tasks("tests.apps.discover_broken.*")
    message = str(error.value)
    assert message.startswith("cannot import module 'tests.apps.discover_broken.bad' (found by discovery): NameError")
    assert "undefined_name" in message
    assert "bad.py:3" in message
    with pytest.raises(ConfigError, match=re.escape("'tests.apps.discover_pkg.mail' is a module, not a package")):
        App("x").discover_tasks(f"{PKG}.mail.*")


async def test_worker_runs_discovered_tasks(app_factory: AppFactory) -> None:
    worker_app = app_factory(name="host")
    assert worker_app.discover_tasks([f"{PKG}.*"]) == ["send_mail", "send_sms"]
    async with app_factory(name="producer") as producer, running_worker(worker_app, queues=["mail", "sms"]):
        mailed = await producer.enqueue("send_mail", kwargs={"to": "ada"})  # routed by the catalog
        texted = await producer.enqueue("send_sms", args=["555"])
        assert await mailed.result(timeout_s=10) == "mailed ada"
        assert await texted.result(timeout_s=10) == "texted 555"


def test_cli_load_app_discovers() -> None:
    app = load_app("tests.apps.empty:app", [f"{PKG}.mail"])
    try:
        assert "send_mail" in app.tasks
    finally:
        app.tasks.pop("send_mail", None)  # the module-level app is shared by other tests
