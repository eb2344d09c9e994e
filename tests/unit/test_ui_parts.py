"""The web UI's pure parts: throughput maths, origin checks, auth parsing, options, filters."""

from __future__ import annotations

import base64
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the web UI needs the 'ui' extra")

from starlette.requests import Request

from jetjobs.cli._ui import parse_basic_auth
from jetjobs.errors import ConfigError
from jetjobs.ui import UIConfig, create_ui_app
from jetjobs.ui._jobs import JobFilter, trace_id_of
from jetjobs.ui._queues import Throughput, sparkline
from jetjobs.ui._security import basic_auth_ok, same_origin
from jetjobs.worker._presence import presence_key


def request(headers: dict[str, str], method: str = "POST") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": method, "headers": raw, "path": "/", "query_string": b""})


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"Sec-Fetch-Site": "same-origin", "Host": "ui:8080"}, True),
        ({"Sec-Fetch-Site": "cross-site", "Host": "ui:8080", "Origin": "http://ui:8080"}, False),
        ({"Sec-Fetch-Site": "same-site", "Host": "ui:8080"}, False),
        ({"Sec-Fetch-Site": "none", "Host": "ui:8080"}, True),
        ({"Origin": "http://ui:8080", "Host": "ui:8080"}, True),
        ({"Origin": "http://evil.example", "Host": "ui:8080"}, False),
        ({"Origin": "https://ops.example", "Host": "ui:8080", "X-Forwarded-Host": "ops.example"}, True),
        ({"Host": "ui:8080"}, True),  # curl and scripts send neither header
    ],
)
def test_same_origin(headers: dict[str, str], allowed: bool) -> None:
    assert same_origin(request(headers)) is allowed


def test_trusted_origins_may_post_across_sites() -> None:
    cross = request({"Sec-Fetch-Site": "cross-site", "Origin": "https://ops.example", "Host": "ui:8080"})
    assert same_origin(cross, ("https://ops.example",)) is True


def test_basic_auth() -> None:
    good = base64.b64encode(b"ops:pw:with:colons").decode()
    assert basic_auth_ok(request({"Authorization": f"Basic {good}"}), ("ops", "pw:with:colons"))
    assert not basic_auth_ok(request({"Authorization": f"Basic {good}"}), ("ops", "other"))
    assert not basic_auth_ok(request({"Authorization": "Basic !!!"}), ("ops", "pw"))
    assert not basic_auth_ok(request({}), ("ops", "pw"))
    assert parse_basic_auth("ops:pw:x") == ("ops", "pw:x")
    assert parse_basic_auth(None) is None
    with pytest.raises(ConfigError, match="USER:PASSWORD"):
        parse_basic_auth(":pw")


def test_throughput_from_processed_totals() -> None:
    rates = Throughput()
    assert rates.per_minute("q") is None
    rates.add("q", 100, now=0.0)
    rates.add("q", 101, now=1.0)  # closer than 2 s to the last reading: ignored
    rates.add("q", 130, now=10.0)
    rates.add("q", 190, now=40.0)
    assert rates.per_minute("q") == 135.0  # 90 jobs in the last 40 s
    assert rates.series("q") == [180.0, 120.0]
    rates.add("q", 200, now=700.0)  # readings older than 10 minutes are dropped
    assert rates.series("q") == []
    assert rates.per_minute("q") is None


def test_sparkline_points() -> None:
    assert sparkline([3.0]) == ""
    assert sparkline([0.0, 10.0, 5.0], width=100, height=20) == "0.0,20.0 50.0,0.0 100.0,10.0"


def test_ui_config_checks_and_links() -> None:
    cfg = UIConfig(trace_url="http://jaeger:16686/trace/{trace_id}")
    assert cfg.trace_link("j1", "a" * 32) == "http://jaeger:16686/trace/" + "a" * 32
    assert cfg.trace_link("j1", None) is None
    assert UIConfig(trace_url="http://t/search?job={job_id}").trace_link("j1", None) == "http://t/search?job=j1"
    with pytest.raises(ConfigError, match="no placeholder"):
        UIConfig(trace_url="http://jaeger:16686/")
    with pytest.raises(ConfigError, match="page_size"):
        UIConfig(page_size=0)
    with pytest.raises(ConfigError, match="prefix '/ui/'"):
        create_ui_app(object(), prefix="/ui/")  # type: ignore[arg-type]


def test_redaction_and_hidden_arguments() -> None:
    payload: dict[str, Any] = {"args": ["4111"], "kwargs": {}}
    assert UIConfig().show_payload("pay", payload) == payload
    assert UIConfig(hide_args=True).show_payload("pay", payload) is None
    masked = UIConfig(redact=lambda task, p: None if task == "pay" else p)
    assert masked.show_payload("pay", payload) is None
    assert masked.show_payload("other", payload) == payload


def test_job_filter() -> None:
    record = {"queue": "emails", "state": "failed"}
    assert JobFilter(queue="emails", state="failed", q="ord").matches(record, "order-1")
    assert not JobFilter(queue="emails", q="inv").matches(record, "order-1")
    assert not JobFilter(state="succeeded").matches(record, "order-1")
    assert JobFilter(queue="emails").prefilter() == b'"queue":"emails"'
    assert JobFilter(state="dead").prefilter() == b'"state":"dead"'
    assert JobFilter(q="x").prefilter() is None


def test_trace_id_and_presence_key() -> None:
    assert trace_id_of("00-" + "b" * 32 + "-" + "c" * 16 + "-01") == "b" * 32
    assert trace_id_of("garbage") is None
    key = presence_key("pod.ns:svc", 1)
    assert key.startswith("pod_ns_svc-1-")
    assert presence_key("pod.ns:svc", 1) != key


def test_only_transport_imports_nats() -> None:
    """The UI and every other package reach NATS through ``jetjobs.transport`` only."""
    import ast
    from pathlib import Path

    import jetjobs

    root = Path(jetjobs.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        if path.relative_to(root).parts[0] == "transport":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            if any(n == "nats" or n.startswith("nats.") for n in names):
                offenders.append(str(path.relative_to(root)))
    assert offenders == []


def test_cli_tables_and_progress_are_plain_in_a_pipe(capsys: pytest.CaptureFixture[str]) -> None:
    from jetjobs.cli._common import print_table, progress

    print_table(("QUEUE", "BACKLOG"), [("emails", 3), ("[bold]x[/bold]", None)])
    with progress(2, "replaying") as step:
        step("replayed 1")
        step("replayed 2")
    assert capsys.readouterr().out.splitlines() == [
        "QUEUE           BACKLOG",
        "emails          3",
        "[bold]x[/bold]  -",
        "replayed 1",
        "replayed 2",
    ]
