"""``replicas`` sets every per-object replicas setting that is not given itself (issue 9, item 4)."""

from __future__ import annotations

import pytest

from jetjobs import QueueConfig
from jetjobs._settings import load_settings


def test_replicas_fills_every_object() -> None:
    s = load_settings(replicas=3)
    assert (s.status_replicas, s.dlq_replicas, s.workflow_replicas) == (3, 3, 3)
    assert s.queue("mail").replicas == 3


def test_an_explicit_setting_wins() -> None:
    s = load_settings(replicas=3, dlq_replicas=1)
    assert s.dlq_replicas == 1
    assert s.status_replicas == 3
    assert s.queue("mail", QueueConfig(replicas=2)).replicas == 2
    assert s.queue("mail", QueueConfig(concurrency=4)).replicas == 3


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETJOBS_REPLICAS", "3")
    monkeypatch.setenv("JETJOBS_STATUS_REPLICAS", "1")
    monkeypatch.setenv("JETJOBS_QUEUES__one__REPLICAS", "1")
    monkeypatch.setenv("JETJOBS_QUEUES__two__CONCURRENCY", "5")
    s = load_settings()
    assert s.status_replicas == 1
    assert s.workflow_replicas == 3
    assert s.queue("one").replicas == 1
    two = s.queue("two", QueueConfig(max_length=10))
    assert (two.replicas, two.concurrency, two.max_length) == (3, 5, 10)


def test_without_it_the_defaults_stay() -> None:
    s = load_settings()
    assert (s.status_replicas, s.dlq_replicas, s.workflow_replicas, s.queue("x").replicas) == (1, 1, 1, 1)
