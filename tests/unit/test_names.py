"""Names of subjects, streams, consumers and buckets, and name validation (pure)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jetjobs._names import (
    PRIORITIES,
    Names,
    check_namespace,
    check_priority,
    check_queue_name,
    is_valid_job_id,
)
from jetjobs.errors import ConfigError

PLAIN = Names()
STAGING = Names("staging")
MULTI = Names("eu-west-1")


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (PLAIN.subject("emails", "high"), "jobs.emails.high"),
        (STAGING.subject("emails", "low"), "staging.jobs.emails.low"),
        (PLAIN.queue_subjects("emails"), "jobs.emails.>"),
        (STAGING.queue_subjects("emails"), "staging.jobs.emails.>"),
        (PLAIN.stream("emails"), "JOBS_emails"),
        (STAGING.stream("emails"), "STAGING_JOBS_emails"),
        (MULTI.stream("emails"), "EU_WEST_1_JOBS_emails"),
        (PLAIN.consumer("emails", "normal"), "emails-normal"),
        (STAGING.consumer("emails", "normal"), "emails-normal"),
        (PLAIN.dlq_stream, "JOBS_DLQ"),
        (STAGING.dlq_stream, "STAGING_JOBS_DLQ"),
        (PLAIN.dlq_subject("emails"), "dlq.emails"),
        (STAGING.dlq_subject("emails"), "staging.dlq.emails"),
        (PLAIN.dlq_subjects, "dlq.>"),
        (STAGING.dlq_subjects, "staging.dlq.>"),
        (PLAIN.advisory_stream, "JOBS_ADVISORIES"),
        (STAGING.advisory_stream, "STAGING_JOBS_ADVISORIES"),
        (
            PLAIN.max_deliveries_advisory("emails"),
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JOBS_emails.*",
        ),
        (
            STAGING.max_deliveries_advisory("emails"),
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.STAGING_JOBS_emails.*",
        ),
        (PLAIN.mover_consumer("emails"), "dlq-mover-emails"),
        (PLAIN.status_bucket, "JOBS_STATUS"),
        (STAGING.status_bucket, "STAGING_JOBS_STATUS"),
        (MULTI.status_bucket, "EU_WEST_1_JOBS_STATUS"),
    ],
)
def test_names_are_exact(actual: str, expected: str) -> None:
    assert actual == expected


@pytest.mark.parametrize("names", [PLAIN, STAGING, MULTI])
@pytest.mark.parametrize("queue", ["emails", "a", "q_1-x", "9lives"])
@pytest.mark.parametrize("priority", PRIORITIES)
def test_parse_subject_inverts_subject(names: Names, queue: str, priority: str) -> None:
    assert names.parse_subject(names.subject(queue, priority)) == (queue, priority)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("names", "subject"),
    [
        (PLAIN, "staging.jobs.emails.high"),  # another namespace
        (STAGING, "jobs.emails.high"),  # no namespace
        (STAGING, "prod.jobs.emails.high"),
        (PLAIN, "jobs.emails"),  # no priority
        (PLAIN, "jobs.emails.urgent"),  # unknown priority
        (PLAIN, "jobs.emails.high.extra"),
        (PLAIN, "dlq.emails"),
        (PLAIN, "orders.created"),
        (PLAIN, ""),
        (PLAIN, "jobsx.emails.high"),
    ],
)
def test_parse_subject_returns_none_for_foreign_subjects(names: Names, subject: str) -> None:
    assert names.parse_subject(subject) is None


@pytest.mark.parametrize("subject", ["jobs..high", "jobs.EMAILS.high"])
def test_parse_subject_rejects_invalid_queue_tokens(subject: str) -> None:
    assert PLAIN.parse_subject(subject) is None


@pytest.mark.parametrize(
    ("names", "stream", "expected"),
    [
        (PLAIN, "JOBS_emails", "emails"),
        (PLAIN, "JOBS_q_1-x", "q_1-x"),
        (STAGING, "STAGING_JOBS_emails", "emails"),
        (MULTI, "EU_WEST_1_JOBS_emails", "emails"),
        (PLAIN, "JOBS_DLQ", None),
        (PLAIN, "JOBS_STATUS", None),
        (PLAIN, "JOBS_ADVISORIES", None),
        (PLAIN, "KV_JOBS_STATUS", None),
        (PLAIN, "STAGING_JOBS_emails", None),
        (STAGING, "JOBS_emails", None),
        (STAGING, "STAGING_JOBS_DLQ", None),
        (PLAIN, "ORDERS", None),
        (PLAIN, "JOBS_", None),
    ],
)
def test_is_queue_stream(names: Names, stream: str, expected: str | None) -> None:
    assert names.is_queue_stream(stream) == expected


@pytest.mark.parametrize("queue", ["emails", "a", "0", "q_1", "with-dash", "x" * 63])
def test_valid_queue_names(queue: str) -> None:
    assert check_queue_name(queue) == queue


@pytest.mark.parametrize(
    "queue", ["", "Emails", "_lead", "-lead", "has space", "dot.ted", "star*", "gt>", "x" * 64, "é"]
)
def test_invalid_queue_names(queue: str) -> None:
    with pytest.raises(ConfigError, match="invalid queue name"):
        check_queue_name(queue)


@pytest.mark.parametrize("namespace", ["", "staging", "a", "eu-west-1", "0x", "a" * 32])
def test_valid_namespaces(namespace: str) -> None:
    assert check_namespace(namespace) == namespace


@pytest.mark.parametrize("namespace", ["Staging", "-a", "a-", "a_b", "a.b", "a b", "a" * 33, "ns>", "ns*"])
def test_invalid_namespaces(namespace: str) -> None:
    with pytest.raises(ConfigError, match="invalid namespace"):
        check_namespace(namespace)


@pytest.mark.parametrize("namespace", ["Bad", "a_b"])
def test_names_validates_its_namespace(namespace: str) -> None:
    with pytest.raises(ConfigError):
        Names(namespace)


@pytest.mark.parametrize("priority", ["high", "normal", "low"])
def test_valid_priorities(priority: str) -> None:
    assert check_priority(priority) == priority


@pytest.mark.parametrize("priority", ["", "HIGH", "urgent", "medium", " low"])
def test_invalid_priorities(priority: str) -> None:
    with pytest.raises(ConfigError, match="use one of high, normal, low"):
        check_priority(priority)


def test_priorities_are_ordered_high_to_low() -> None:
    assert PRIORITIES == ("high", "normal", "low")


@pytest.mark.parametrize(
    ("job_id", "valid"),
    [
        ("a", True),
        ("order-42", True),
        ("tenant.order.42", True),
        ("base64url_Zm9v==", True),
        ("x" * 200, True),
        ("", False),
        ("x" * 201, False),
        ("has space", False),
        ("a..b", False),
        (".lead", False),
        ("trail.", False),
        ("wild*", False),
        ("tail>", False),
        ("slash/ed", False),
        ("colon:ed", False),
        ("ünïcode", False),
        ("new\nline", False),
    ],
)
def test_job_id_validity(job_id: str, valid: bool) -> None:
    assert is_valid_job_id(job_id) is valid


@pytest.mark.parametrize("job_id", ["job-1\n", "a.b\n"])
def test_job_id_with_trailing_newline_is_invalid(job_id: str) -> None:
    assert is_valid_job_id(job_id) is False


@pytest.mark.parametrize(("check", "value"), [(check_queue_name, "emails\n"), (check_namespace, "staging\n")])
def test_names_with_trailing_newline_are_invalid(check: Callable[[str], str], value: str) -> None:
    with pytest.raises(ConfigError):
        check(value)
