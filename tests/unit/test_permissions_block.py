"""The permission blocks as values: names, namespaces, inbox prefixes, formats; parsing violations."""

from __future__ import annotations

import pytest

from jetjobs import ConfigError, PermissionDenied
from jetjobs._permissions import ROLES, permissions
from jetjobs.transport._denied import _pattern, parse_violation


def test_a_namespace_changes_every_name() -> None:
    block = permissions("worker", ["emails"], namespace="staging")
    assert "staging.jobs.emails.*" in block.publish_subjects
    assert "$JS.API.CONSUMER.MSG.NEXT.STAGING_JOBS_emails.emails-high" in block.publish_subjects
    assert "$KV.STAGING_JOBS_STATUS.>" in block.publish_subjects
    assert "staging.jetjobs.wf.cancel" in block.subscribe_subjects
    assert not any(s.startswith(("jobs.", "$KV.JOBS_")) for s in block.publish_subjects)


@pytest.mark.parametrize("role", ROLES)
def test_every_role_subscribes_to_its_inbox_prefix_only(role: str) -> None:
    block = permissions(role, ["emails"], inbox_prefix="_INBOX_emails")
    assert block.subscribe_subjects[0] == "_INBOX_emails.>"
    assert "_INBOX.>" not in block.subscribe_subjects


def test_only_the_provisioner_creates_or_updates() -> None:
    for role in ROLES:
        writes = [s for s in permissions(role, ["a", "b"]).publish_subjects if ".CREATE." in s or ".UPDATE." in s]
        if role == "provisioner":
            assert "$JS.API.STREAM.CREATE.JOBS_a" in writes
            assert "$JS.API.CONSUMER.CREATE.JOBS_b.b-low.>" in writes
        else:
            # Ordered consumers (KV watches, object reads) are ephemeral: created without a name.
            assert all(s.count(".") == 4 for s in writes), writes


def test_queues_are_validated_and_required() -> None:
    with pytest.raises(ConfigError, match="unknown role"):
        permissions("admin", ["a"])
    with pytest.raises(ConfigError, match="invalid queue name"):
        permissions("worker", ["Bad Queue"])
    with pytest.raises(ConfigError, match="--queues"):
        permissions("worker", [])


def test_formats() -> None:
    block = permissions("scheduler", ["a"])
    assert block.to_json()["publish"]["allow"] == block.publish_subjects
    conf = block.to_conf()
    assert conf.startswith("permissions: {")
    assert '"jobs.a.*"  # fire schedules into a' in conf
    # Without any allowed subject the block denies all (an empty allow list would allow everything).
    empty = block.without("_INBOX.>")
    assert empty.to_json()["subscribe"] == {"deny": [">"]}
    assert 'deny: [">"]' in empty.to_conf()


def test_violations_are_parsed_with_their_subject() -> None:
    denied = parse_violation("-ERR 'Permissions Violation for Publish to \"$JS.API.STREAM.CREATE.JOBS_a\"'")
    assert isinstance(denied, PermissionDenied)
    assert (denied.operation, denied.subject) == ("publish", "$JS.API.STREAM.CREATE.JOBS_a")
    assert "jetjobs provision" in str(denied)
    sub = parse_violation('nats: permissions violation for subscription to "_INBOX.abc.*"')
    assert sub is not None
    assert (sub.operation, sub.subject) == ("subscribe", "_INBOX.abc.*")
    assert parse_violation("nats: stale connection") is None


@pytest.mark.parametrize(
    ("pattern", "subject", "matches"),
    [
        ("$JS.ACK.JOBS_a.>", "$JS.ACK.JOBS_a.a-high.1.2.3.4.5", True),
        ("$JS.ACK.JOBS_a.>", "$JS.ACK.JOBS_a", False),
        ("jobs.a.*", "jobs.a.high", True),
        ("jobs.a.*", "jobs.a.high.x", False),
        ("$KV.JOBS_STATUS.>", "$KV.JOBS_STATUSX.k", False),
    ],
)
def test_subject_patterns(pattern: str, subject: str, matches: bool) -> None:
    assert bool(_pattern(pattern).fullmatch(subject)) is matches
