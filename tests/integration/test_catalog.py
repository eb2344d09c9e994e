"""The task catalog: workers publish their tasks; a producer with no task code routes and checks by name."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from jetjobs import App, InvalidPayload, UnknownTask
from jetjobs.cli import main
from jetjobs.testing import NatsServer
from tests.apps import catalog_svc
from tests.conftest import ROOT
from tests.helpers import AppFactory, running_worker

ASYNCAPI_SCHEMA = Path(ROOT) / "tests" / "asyncapi" / "asyncapi-3.0.0.schema.json"


def _worker_app(server: NatsServer) -> App:
    app = App("mailer", nats_url=server.url)

    @app.task(queue="emails", version="2", max_retries=4)
    async def send_email(to: str, subject: str, retries: int = 1) -> dict[str, str]:
        """Send one email."""
        return {"to": to, "subject": subject}

    return app


async def _stored(app: App, queue: str) -> int:
    info = await app.connection.js.stream_info(app.connection.names.stream(queue))
    return int(info.state.messages)


async def test_producer_without_task_code_routes_by_catalog_and_checks_arguments(
    jetjobs_server: NatsServer, app_factory: AppFactory
) -> None:
    producer = app_factory(name="frontend")  # registers no task
    async with producer:
        with pytest.raises(UnknownTask, match="no worker published it to the catalog"):
            await producer.enqueue("send_email", kwargs={"to": "a@example.com", "subject": "hi"})
        async with running_worker(_worker_app(jetjobs_server)):
            job = await producer.enqueue("send_email", kwargs={"to": "a@example.com", "subject": "hi"})
            assert job.queue == "emails"
            assert await job.result(timeout_s=10) == {"to": "a@example.com", "subject": "hi"}
            assert (await producer.status(job.id)).queue == "emails"

            before = await _stored(producer, "emails")
            with pytest.raises(InvalidPayload, match=r"argument to: 5 is not of type string.*catalog of mailer"):
                await producer.enqueue("send_email", kwargs={"to": 5, "subject": "hi"})
            with pytest.raises(InvalidPayload, match="argument subject: is required"):
                await producer.enqueue("send_email", args=["a@example.com"])
            with pytest.raises(InvalidPayload, match="argument cc: is not an accepted field"):
                await producer.enqueue("send_email", kwargs={"to": "a", "subject": "b", "cc": "c"})
            with pytest.raises(InvalidPayload, match="takes 3 positional arguments but 4 were given"):
                await producer.enqueue("send_email", args=["a", "b", 1, 2])
            assert await _stored(producer, "emails") == before  # nothing was published

            positional = await producer.enqueue("send_email", args=["b@example.com", "yo"])
            assert await positional.result(timeout_s=10) == {"to": "b@example.com", "subject": "yo"}


async def test_catalog_entry_carries_schemas_and_options(jetjobs_server: NatsServer, app_factory: AppFactory) -> None:
    async with running_worker(_worker_app(jetjobs_server)), app_factory(name="reader") as reader:
        entry = await reader.catalog.entry("send_email")
        assert entry is not None
        assert (entry.queue, entry.priority, entry.version, entry.service) == ("emails", "normal", "2", "mailer")
        assert entry.description == "Send one email."
        assert entry.options["max_retries"] == 4
        assert entry.arguments["required"] == ["to", "subject"]
        assert entry.arguments["properties"]["retries"]["type"] == "integer"
        assert entry.result == {"additionalProperties": {"type": "string"}, "type": "object"}
        assert [p.name for p in entry.parameters] == ["to", "subject", "retries"]


async def _publish(server: NatsServer) -> None:
    async with _worker_app(server) as app:
        await app.publish_catalog()


def test_cli_tasks_lists_the_server_catalog(jetjobs_server: NatsServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "--nats-url", jetjobs_server.url]) == 0
    assert "the task catalog is empty" in capsys.readouterr().out
    asyncio.run(_publish(jetjobs_server))
    assert main(["tasks", "--nats-url", jetjobs_server.url]) == 0
    out = capsys.readouterr().out
    assert out.split("\n")[1].split()[:5] == ["send_email", "emails", "normal", "2", "mailer"]
    assert main(["tasks", "--nats-url", jetjobs_server.url, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["name"] == "send_email"


def _validate_asyncapi(doc: dict[str, Any]) -> None:
    schema = json.loads(ASYNCAPI_SCHEMA.read_text())
    errors = [
        f"{list(e.absolute_path)}: {e.message[:200]}" for e in jsonschema.Draft7Validator(schema).iter_errors(doc)
    ]
    assert errors == []
    for ref in _refs(doc):  # every local reference resolves inside the document
        node: Any = doc
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


def test_asyncapi_of_a_module_validates_against_the_asyncapi_3_schema(tmp_path: Path) -> None:
    out = tmp_path / "doc.json"
    assert main(["schema", "tests.apps.catalog_svc:app", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    _validate_asyncapi(doc)
    assert doc["asyncapi"] == "3.0.0"
    assert doc["channels"]["post.low"]["address"] == "jobs.post.low"
    letter = doc["components"]["messages"]["send_letter"]
    kwargs = letter["payload"]["properties"]["kwargs"]
    assert kwargs["properties"]["address"] == {"$ref": "#/components/schemas/send_letter.Address"}
    assert kwargs["properties"]["pages"]["additionalItems"] is False  # a tuple, in draft-07 form
    assert "Jetjobs-Task" in letter["headers"]["allOf"][1]["properties"]
    assert set(catalog_svc.app.tasks) == {m for m in doc["components"]["messages"] if not m.endswith(".status")}


def test_asyncapi_check_rejects_a_broken_document(tmp_path: Path) -> None:
    out = tmp_path / "doc.json"
    assert main(["schema", "tests.apps.catalog_svc:app", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    doc["components"]["messages"]["send_letter"]["contentType"] = 5
    with pytest.raises(AssertionError):
        _validate_asyncapi(doc)


def test_asyncapi_of_the_server_catalog_validates(jetjobs_server: NatsServer, tmp_path: Path) -> None:
    asyncio.run(_publish(jetjobs_server))
    out = tmp_path / "doc.yaml"
    assert main(["schema", "--nats-url", jetjobs_server.url, "--yaml", "-o", str(out)]) == 0
    doc = yaml.safe_load(out.read_text())
    _validate_asyncapi(doc)
    assert doc["servers"]["nats"]["host"] == jetjobs_server.url.split("://")[1]
    assert doc["operations"]["enqueue.send_email.normal"]["action"] == "send"
