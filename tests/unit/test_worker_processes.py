"""``jetjobs worker --processes N`` without a server: the option, the children's command, merged metrics."""

from __future__ import annotations

import sys

import pytest

from jetjobs._settings import Settings
from jetjobs.cli import build_parser, main
from jetjobs.cli._services import child_command
from jetjobs.telemetry import HealthServer
from jetjobs.telemetry._exposition import merge_exposition
from jetjobs.telemetry._http import loopback_get
from jetjobs.telemetry._metrics import sample_value

CHILD_A = """\
# HELP jetjobs_jobs_total Job attempts by outcome.
# TYPE jetjobs_jobs_total counter
jetjobs_jobs_total{task="t",queue="q",outcome="succeeded"} 1234567
# HELP jetjobs_job_duration_seconds Run time of job attempts.
# TYPE jetjobs_job_duration_seconds histogram
jetjobs_job_duration_seconds_bucket{task="t",queue="q",le="0.1"} 3
jetjobs_job_duration_seconds_bucket{task="t",queue="q",le="+Inf"} 4
jetjobs_job_duration_seconds_sum{task="t",queue="q"} 0.5
jetjobs_job_duration_seconds_count{task="t",queue="q"} 4
# HELP jetjobs_jobs_in_flight Jobs running in this process.
# TYPE jetjobs_jobs_in_flight gauge
jetjobs_jobs_in_flight{queue="q"} 2
# HELP jetjobs_queue_backlog Jobs not yet done.
# TYPE jetjobs_queue_backlog gauge
jetjobs_queue_backlog{queue="q",priority="normal"} 100
"""

CHILD_B = """\
# HELP jetjobs_jobs_total Job attempts by outcome.
# TYPE jetjobs_jobs_total counter
jetjobs_jobs_total{task="t",queue="q",outcome="succeeded"} 1
jetjobs_jobs_total{task="t",queue="q",outcome="failed"} 2
# HELP jetjobs_job_duration_seconds Run time of job attempts.
# TYPE jetjobs_job_duration_seconds histogram
jetjobs_job_duration_seconds_bucket{task="t",queue="q",le="0.1"} 1
jetjobs_job_duration_seconds_bucket{task="t",queue="q",le="+Inf"} 1
jetjobs_job_duration_seconds_sum{task="t",queue="q"} 0.25
jetjobs_job_duration_seconds_count{task="t",queue="q"} 1
# HELP jetjobs_jobs_in_flight Jobs running in this process.
# TYPE jetjobs_jobs_in_flight gauge
jetjobs_jobs_in_flight{queue="q"} 3
# HELP jetjobs_queue_backlog Jobs not yet done.
# TYPE jetjobs_queue_backlog gauge
jetjobs_queue_backlog{queue="q",priority="normal"} 98
"""


def test_merged_metrics_sum_counts_and_keep_the_shared_backlog_once() -> None:
    merged = merge_exposition([CHILD_A, CHILD_B], additive=["jetjobs_jobs_in_flight"])
    lines = merged.splitlines()
    assert 'jetjobs_jobs_total{task="t",queue="q",outcome="succeeded"} 1234568' in lines  # exact, no 1.23e+06
    assert 'jetjobs_jobs_total{task="t",queue="q",outcome="failed"} 2' in lines  # only one child had it
    assert 'jetjobs_job_duration_seconds_bucket{task="t",queue="q",le="0.1"} 4' in lines
    assert 'jetjobs_job_duration_seconds_bucket{task="t",queue="q",le="+Inf"} 5' in lines
    assert 'jetjobs_job_duration_seconds_sum{task="t",queue="q"} 0.75' in lines
    assert 'jetjobs_job_duration_seconds_count{task="t",queue="q"} 5' in lines
    assert 'jetjobs_jobs_in_flight{queue="q"} 5' in lines  # per-process: summed
    assert 'jetjobs_queue_backlog{queue="q",priority="normal"} 100' in lines  # the shared queue: max
    assert lines.count("# TYPE jetjobs_jobs_total counter") == 1
    assert lines[0] == "# HELP jetjobs_jobs_total Job attempts by outcome."
    # The "failed" sample follows the family's other samples, not the end of the text.
    assert lines.index('jetjobs_jobs_total{task="t",queue="q",outcome="failed"} 2') == 3


def test_merging_one_exposition_gives_it_back() -> None:
    assert merge_exposition([CHILD_A]) == CHILD_A
    assert merge_exposition([]) == ""


@pytest.mark.parametrize(
    ("value", "text"), [(3, "3"), (1234567.0, "1234567"), (0.1, "0.1"), (float("inf"), "+Inf"), (-2.0, "-2")]
)
def test_sample_values_are_exact(value: float, text: str) -> None:
    assert sample_value(value) == text


@pytest.mark.parametrize(("given", "says"), [("0", "must be >= 1, not 0"), ("-3", "not -3"), ("x", "not 'x'")])
def test_a_bad_process_count_is_a_cli_error_naming_the_option(
    given: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["worker", "tests.apps.e2e:app", "--processes", given])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "argument --processes:" in err
    assert says in err


def test_the_setting_is_checked_too(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert Settings().worker_processes == 1
    monkeypatch.setenv("JETJOBS_WORKER_PROCESSES", "3")
    assert Settings().worker_processes == 3
    monkeypatch.setenv("JETJOBS_WORKER_PROCESSES", "0")
    # The app reads its settings when its module is imported: import it afresh (another test may have).
    monkeypatch.delitem(sys.modules, "tests.apps.e2e", raising=False)
    assert main(["worker", "tests.apps.e2e:app"]) == 1
    assert "worker_processes" in capsys.readouterr().err


def test_children_run_the_same_command_with_one_process_each() -> None:
    args = build_parser().parse_args(
        [
            "--log-level",
            "DEBUG",
            "worker",
            "svc.tasks:app",
            "--processes",
            "4",
            "--queues",
            "a,b",
            "--concurrency",
            "8",
            "--discover",
            "svc.*",
            "--nats-url",
            "nats://n:4222",
            "--otel",
        ]
    )
    assert child_command(args, serve_http=True) == [
        sys.executable,
        "-m",
        "jetjobs",
        "--log-level",
        "DEBUG",
        "worker",
        "svc.tasks:app",
        "--processes",
        "1",
        "--discover",
        "svc.*",
        "--queues",
        "a,b",
        "--concurrency",
        "8",
        "--nats-url",
        "nats://n:4222",
        "--metrics-port",
        "0",
        "--otel",
    ]
    assert "--metrics-port" not in child_command(args, serve_http=False)


async def test_health_server_takes_coroutines_and_loopback_get_reads_it() -> None:
    async def ready() -> bool:
        return True

    async def render() -> str:
        return "merged 1\n"

    server = HealthServer(0, host="127.0.0.1", ready=ready, alive=lambda: False, render=render)
    await server.start()
    try:
        assert await loopback_get(server.port, "/readyz") == (200, b"ready\n")
        assert (await loopback_get(server.port, "/healthz"))[0] == 503
        assert await loopback_get(server.port, "/metrics") == (200, b"merged 1\n")
    finally:
        await server.stop()
    assert await loopback_get(server.port, "/readyz", timeout_s=0.5) == (0, b"")
