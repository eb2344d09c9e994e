"""Settings: sources and their priority, strict keys, cross-field checks (no server).

pydantic-settings reads the process environment, so every test here starts from an
environment without JETJOBS_* variables (see the autouse fixture).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from jetjobs import App
from jetjobs._settings import QueueConfig, Settings, check_environment, load_settings
from jetjobs.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("JETJOBS_"):
            monkeypatch.delenv(key)


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jetjobs.yaml"
    path.write_text(text)
    return path


def test_defaults_without_any_source() -> None:
    settings = load_settings()
    assert settings.servers == ["nats://127.0.0.1:4222"]
    assert settings.namespace == ""
    assert settings.queues == {}
    assert settings.queue("anything") == QueueConfig()


@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        ({"namespace": "staging"}, "namespace", "staging"),
        ({"request_timeout_s": 2}, "request_timeout_s", 2.0),
        ({"log_format": "json"}, "log_format", "json"),
        ({"processes": 3}, "processes", 3),
        ({"nats_url": "nats://a:4222, nats://b:4222,"}, "servers", ["nats://a:4222", "nats://b:4222"]),
    ],
)
def test_load_settings_applies_overrides(overrides: dict[str, Any], field: str, expected: Any) -> None:
    assert getattr(load_settings(**overrides), field) == expected


@pytest.mark.parametrize(
    ("variable", "hint"),
    [
        ("JETJOBS_NAMESPCE", "did you mean JETJOBS_NAMESPACE?"),
        ("JETJOBS_NATS_URLL", "did you mean JETJOBS_NATS_URL?"),
        ("jetjobs_log_levle", "did you mean JETJOBS_LOG_LEVEL?"),
        ("JETJOBS_CONCURENCY", "unknown setting JETJOBS_CONCURENCY in the environment"),
        ("JETJOBS_SOMETHING_ELSE", "unknown setting JETJOBS_SOMETHING_ELSE in the environment"),
    ],
)
def test_unknown_environment_variable_fails_with_a_hint(
    monkeypatch: pytest.MonkeyPatch, variable: str, hint: str
) -> None:
    with pytest.raises(ConfigError, match=hint):
        check_environment({variable: "1"})
    monkeypatch.setenv(variable, "1")
    with pytest.raises(ConfigError, match=hint):
        load_settings()


def test_far_off_unknown_variable_gets_no_hint() -> None:
    with pytest.raises(ConfigError) as info:
        check_environment({"JETJOBS_ZZZZZZ": "1"})
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize(
    "variable",
    [
        "JETJOBS_NAMESPACE",
        "jetjobs_namespace",
        "JETJOBS_CONFIG_FILE",
        "JETJOBS_QUEUES__emails__CONCURRENCY",
        "JETJOBS_QUEUES__q__RATE_LIMIT",
        "OTHER_PREFIX_VARIABLE",
        "PATH",
    ],
)
def test_known_and_foreign_environment_variables_pass(variable: str) -> None:
    check_environment({variable: "1"})


def test_queue_field_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETJOBS_QUEUES__emails__CONCURRENCY", "8")
    monkeypatch.setenv("JETJOBS_QUEUES__emails__MAX_LENGTH", "100")
    settings = load_settings()
    assert settings.queue("emails").concurrency == 8
    assert settings.queue("emails").max_length == 100


def test_unknown_queue_field_in_environment_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETJOBS_QUEUES__emails__CONCURENCY", "8")
    with pytest.raises(ConfigError, match=re.escape("queues.emails.concurency")):
        load_settings()


def test_yaml_values_apply(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = _yaml(tmp_path, "namespace: fromyaml\nrequest_timeout_s: 9\nqueues:\n  q:\n    concurrency: 4\n")
    monkeypatch.setenv("JETJOBS_CONFIG_FILE", str(path))
    settings = load_settings()
    assert (settings.namespace, settings.request_timeout_s) == ("fromyaml", 9.0)
    assert settings.queue("q").concurrency == 4


def test_environment_overrides_yaml_and_keywords_override_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = _yaml(tmp_path, "namespace: fromyaml\nlog_level: DEBUG\nqueues:\n  q: {concurrency: 4, max_length: 5}\n")
    monkeypatch.setenv("JETJOBS_CONFIG_FILE", str(path))
    monkeypatch.setenv("JETJOBS_NAMESPACE", "fromenv")
    monkeypatch.setenv("JETJOBS_QUEUES__q__CONCURRENCY", "8")
    from_env = load_settings()
    assert from_env.namespace == "fromenv"
    assert from_env.log_level == "DEBUG"  # untouched YAML value survives
    assert (from_env.queue("q").concurrency, from_env.queue("q").max_length) == (8, 5)
    assert load_settings(namespace="fromkwargs").namespace == "fromkwargs"


def test_config_file_can_be_passed_as_keyword(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "namespace: fromyaml\n")
    assert load_settings(config_file=path).namespace == "fromyaml"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("namespce: typo\n", "namespce"),
        ("queues:\n  q:\n    concurrenccy: 3\n", "queues.q.concurrenccy"),
        ("connect_timeout_s: -1\n", "connect_timeout_s"),
    ],
)
def test_bad_yaml_key_or_value_fails_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str, field: str
) -> None:
    monkeypatch.setenv("JETJOBS_CONFIG_FILE", str(_yaml(tmp_path, text)))
    with pytest.raises(ConfigError, match=field):
        load_settings()


def test_missing_config_file_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JETJOBS_CONFIG_FILE", str(tmp_path / "absent.yaml"))
    with pytest.raises(ConfigError, match=re.escape("absent.yaml does not exist")):
        load_settings()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"nats_user": "u"}, "nats_user and nats_password go together"),
        ({"nats_password": "p"}, "nats_user and nats_password go together"),
        (
            {"nats_token": "t", "nats_user": "u", "nats_password": "p"},
            "either nats_token or nats_user/nats_password",
        ),
        ({"nats_creds_file": "a.creds", "nats_nkey_seed_file": "b.nk"}, "either nats_creds_file or"),
        ({"nats_tls_cert_file": "c.pem"}, "nats_tls_cert_file and nats_tls_key_file go together"),
        ({"nats_tls_key_file": "k.pem"}, "nats_tls_cert_file and nats_tls_key_file go together"),
        ({"nats_url": " , "}, "nats_url is empty"),
        ({"namespace": "Bad"}, "invalid namespace 'Bad'"),
        ({"queues": {"Bad": {}}}, "invalid queue name 'Bad'"),
    ],
)
def test_cross_field_checks(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(**overrides)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"rate_burst": 3}, "rate_burst needs rate_limit"),
        ({"priorities": ["high", "high"]}, "priorities must not repeat"),
    ],
)
def test_queue_override_cross_checks_apply_after_merging(override: dict[str, Any], message: str) -> None:
    # Single-field overrides load fine; the merged queue is what must be consistent.
    settings = load_settings(queues={"q": override})
    with pytest.raises(ConfigError, match=message):
        settings.queue("q")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"connect_timeout_s": 0}, "connect_timeout_s"),
        ({"request_timeout_s": "soon"}, "request_timeout_s"),
        ({"result_ttl_s": 0.5}, "result_ttl_s"),
        ({"status_replicas": 6}, "status_replicas"),
        ({"dlq_max_age_s": 10}, "dlq_max_age_s"),
        ({"shutdown_grace_s": -1}, "shutdown_grace_s"),
        ({"processes": 0}, "processes"),
        ({"metrics_port": 70_000}, "metrics_port"),
        ({"log_format": "xml"}, "log_format"),
        ({"bogus": 1}, "bogus"),
        ({"queues": {"q": {"concurrency": 0}}}, "queues.q.concurrency"),
        ({"queues": {"q": {"ack_wait_s": 0.5}}}, "queues.q.ack_wait_s"),
        ({"queues": {"q": {"max_deliveries": 1}}}, "queues.q.max_deliveries"),
        ({"queues": {"q": {"replicas": 7}}}, "queues.q.replicas"),
        ({"queues": {"q": {"priorities": []}}}, "queues.q.priorities"),
        ({"queues": {"q": {"priorities": ["urgent"]}}}, "queues.q.priorities"),
    ],
)
def test_invalid_value_error_names_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=f"invalid settings: .*{field}"):
        load_settings(**overrides)


def test_invalid_environment_value_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETJOBS_CONNECT_TIMEOUT_S", "abc")
    with pytest.raises(ConfigError, match="connect_timeout_s"):
        load_settings()


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.namespace = "other"  # type: ignore[misc]


@pytest.mark.parametrize(("ack_wait_s", "heartbeat_s"), [(30.0, 10.0), (1.0, 1 / 3), (90, 30.0)])
def test_heartbeat_is_a_third_of_ack_wait(ack_wait_s: float, heartbeat_s: float) -> None:
    assert QueueConfig(ack_wait_s=ack_wait_s).heartbeat_s == pytest.approx(heartbeat_s)


@pytest.mark.parametrize(
    ("priorities", "ordered"),
    [
        (("high", "normal", "low"), ("high", "normal", "low")),
        (("low", "high"), ("high", "low")),
        (("low", "normal", "high"), ("high", "normal", "low")),
        (("normal",), ("normal",)),
    ],
)
def test_ordered_priorities_keep_high_normal_low(priorities: tuple[str, ...], ordered: tuple[str, ...]) -> None:
    assert QueueConfig(priorities=priorities).ordered_priorities() == ordered  # type: ignore[arg-type]


def test_queue_config_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match="concurency"):
        QueueConfig(concurency=3)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("declared", "env", "expected"),
    [
        ({"concurrency": 32, "max_length": 10}, {}, {"concurrency": 32, "max_length": 10}),
        ({"concurrency": 32, "max_length": 10}, {"CONCURRENCY": "8"}, {"concurrency": 8, "max_length": 10}),
        (
            QueueConfig(concurrency=32, max_length=10),
            {"CONCURRENCY": "8"},
            {"concurrency": 8, "max_length": 10},
        ),
        ({}, {"MAX_LENGTH": "7"}, {"concurrency": 64, "max_length": 7}),
        ({"rate_limit": 5}, {"RATE_LIMIT": "2", "RATE_BURST": "4"}, {"rate_limit": 2.0, "rate_burst": 4}),
        ({"ack_wait_s": 60}, {"CONCURRENCY": "2"}, {"ack_wait_s": 60.0, "concurrency": 2}),
    ],
)
def test_app_queue_config_merges_code_and_environment(
    monkeypatch: pytest.MonkeyPatch, declared: Any, env: dict[str, str], expected: dict[str, Any]
) -> None:
    for field, value in env.items():
        monkeypatch.setenv(f"JETJOBS_QUEUES__q__{field}", value)
    config = App("x", queues={"q": declared}).queue_config("q")
    assert {field: getattr(config, field) for field in expected} == expected


def test_app_queue_config_of_undeclared_queue_is_default() -> None:
    assert App("x").queue_config("other") == QueueConfig()


def test_environment_can_override_rate_burst_of_a_rate_limited_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETJOBS_QUEUES__q__RATE_BURST", "20")
    config = App("x", queues={"q": {"rate_limit": 5}}).queue_config("q")
    assert (config.rate_limit, config.rate_burst) == (5.0, 20)


def test_settings_object_can_be_passed_to_app() -> None:
    settings = Settings(namespace="given")
    assert App("x", settings=settings).settings is settings
