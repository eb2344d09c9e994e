"""deploy/docker-compose.yml through the real Docker Compose v2 parser (`docker-compose config`:
schema validation, interpolation, merge keys, depends_on), then checks of what it resolved to;
deploy/otel-collector.yaml checked structurally (no otelcol binary with the needed components is
available from PyPI, npm or Debian)."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_support import ROOT

COMPOSE = ROOT / "deploy" / "docker-compose.yml"
COLLECTOR = ROOT / "deploy" / "otel-collector.yaml"
JETJOBS_SERVICES = {"provision", "scheduler", "payments", "notifications", "orders", "ui"}


def compose_config(docker_compose: str, path: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [docker_compose, "-f", str(path), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise AssertionError(f"docker-compose config rejected {path.name}:\n{proc.stderr}")
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def compose(docker_compose: str) -> dict[str, Any]:
    return compose_config(docker_compose, COMPOSE)


def test_parser_rejects_invalid_files(docker_compose: str, tmp_path: Path) -> None:
    """The parser validates against the compose schema (so a pass above means something)."""
    bad = tmp_path / "compose.yml"
    bad.write_text("services:\n  a:\n    image: x\n    depends_on: [missing]\n")
    with pytest.raises(AssertionError, match="depends on undefined service"):
        compose_config(docker_compose, bad)
    bad.write_text("services:\n  a:\n    image: x\n    stop_grace_periodd: 5s\n")
    with pytest.raises(AssertionError, match="stop_grace_periodd"):
        compose_config(docker_compose, bad)


def test_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"nats", "otel-collector", "jaeger"} | JETJOBS_SERVICES <= set(services)
    for name, svc in services.items():
        assert svc.get("image") or svc.get("build"), f"{name} has neither image nor build"
    for name in JETJOBS_SERVICES:
        svc = services[name]
        assert svc["build"]["dockerfile"] == "deploy/Dockerfile"
        assert Path(svc["build"]["context"]) == ROOT, "the build context is the repository root"
        assert svc["image"] == "jetjobs:dev", "one image for every role"
        assert svc["read_only"] is True
        assert svc["cap_drop"] == ["ALL"]


def command_of(svc: dict[str, Any]) -> list[str]:
    return (svc.get("entrypoint") or ["jetjobs"]) + (svc.get("command") or [])


def test_commands(compose: dict[str, Any]) -> None:
    s = compose["services"]
    assert command_of(s["payments"])[:3] == ["jetjobs", "worker", "services.payments.tasks:app"]
    assert command_of(s["notifications"])[:3] == ["jetjobs", "worker", "services.notifications.tasks:app"]
    assert command_of(s["scheduler"])[:3] == ["jetjobs", "scheduler", "services.scheduler.schedules:app"]
    assert command_of(s["orders"]) == ["python", "-m", "services.orders.main", "--interval-s", "2"]
    script = " ".join(command_of(s["provision"])).replace("$$", "$")
    for app in (
        "services.payments.tasks:app",
        "services.notifications.tasks:app",
        "services.scheduler.schedules:app",
    ):
        assert app in script
    assert 'jetjobs provision "$app" || exit 1' in script, "provision must fail when one app fails"
    assert s["provision"]["restart"] == "no"
    assert s["scheduler"]["deploy"]["replicas"] == 2


def test_web_ui(compose: dict[str, Any]) -> None:
    ui = compose["services"]["ui"]
    cmd = command_of(ui)
    assert cmd[:2] == ["jetjobs", "ui"]
    port = cmd[cmd.index("--port") + 1]
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"  # inside the container; published on loopback only
    (published,) = ui["ports"]
    assert (published["host_ip"], str(published["target"]), published["published"]) == ("127.0.0.1", port, port)
    assert f":{port}/readyz" in " ".join(ui["healthcheck"]["test"])
    assert "{trace_id}" in cmd[cmd.index("--trace-url") + 1]


def test_nats_with_jetstream_and_monitoring(compose: dict[str, Any]) -> None:
    nats = compose["services"]["nats"]
    assert nats["image"].split(":")[0] == "nats"
    args = nats["command"]
    assert "-js" in args or "--jetstream" in args
    assert args[args.index("-m") + 1] == "8222"
    assert {p["target"] for p in nats["ports"]} >= {4222, 8222}
    assert "js-enabled-only" in " ".join(nats["healthcheck"]["test"])
    assert any(v["target"] == "/data" and v["type"] == "volume" for v in nats["volumes"]), "JetStream store on a volume"


def test_start_order(compose: dict[str, Any]) -> None:
    s = compose["services"]
    assert s["provision"]["depends_on"]["nats"]["condition"] == "service_healthy"
    for name in JETJOBS_SERVICES - {"provision"}:
        assert s[name]["depends_on"]["provision"]["condition"] == "service_completed_successfully", name


def test_graceful_stop_and_health(compose: dict[str, Any]) -> None:
    for name in ("payments", "notifications"):
        svc = compose["services"][name]
        cmd = command_of(svc)
        grace = float(cmd[cmd.index("--shutdown-grace-s") + 1])
        stop = svc["stop_grace_period"]
        assert stop.endswith("s"), stop
        assert float(stop[:-1]) > grace, f"{name}: stop_grace_period {stop} <= grace {grace}"
        assert "/readyz" in " ".join(svc["healthcheck"]["test"])
        port = cmd[cmd.index("--metrics-port") + 1]
        assert f":{port}/readyz" in " ".join(svc["healthcheck"]["test"])


def test_tracing_wiring(compose: dict[str, Any]) -> None:
    s = compose["services"]
    names = []
    for name in JETJOBS_SERVICES:
        env = s[name]["environment"]
        assert env["JETJOBS_OTEL"] == "true"
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4317"
        assert env["JETJOBS_NATS_URL"] == "nats://nats:4222"
        names.append(env["OTEL_SERVICE_NAME"])
    assert len(set(names)) == len(names), "each service reports under its own name"
    collector = s["otel-collector"]
    (mount,) = collector["volumes"]
    assert Path(mount["source"]) == COLLECTOR
    assert mount["read_only"] is True
    assert f"--config={mount['target']}" in collector["command"]
    assert {p["target"] for p in s["jaeger"]["ports"]} == {16686}


def test_environment_names_are_known_settings(compose: dict[str, Any]) -> None:
    from jetjobs._settings import check_environment

    for name in JETJOBS_SERVICES:
        check_environment(compose["services"][name]["environment"])


def test_collector_config(compose: dict[str, Any]) -> None:
    cfg = yaml.safe_load(COLLECTOR.read_text())
    pipelines = cfg["service"]["pipelines"]
    assert set(pipelines) == {"traces"}
    for section in ("receivers", "processors", "exporters"):
        for pipe_name, pipe in pipelines.items():
            for component in pipe.get(section, []):
                assert component in cfg[section], f"{pipe_name} uses undefined {section[:-1]} {component}"
    grpc = cfg["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert grpc == "0.0.0.0:4317", "OTLP must listen on all interfaces inside the container"
    assert "otlp" in pipelines["traces"]["receivers"]
    jaeger = cfg["exporters"]["otlp/jaeger"]
    host, port = jaeger["endpoint"].split(":")
    assert host in compose["services"], f"exporter endpoint host {host} is not a compose service"
    assert port == "4317"
    procs = pipelines["traces"]["processors"]
    assert procs[0] == "memory_limiter", "memory_limiter first"
    assert procs[-1] == "batch", "batch last"
    assert shlex.split(compose["services"]["jaeger"]["command"][0])[0].startswith("--set=receivers.otlp")
