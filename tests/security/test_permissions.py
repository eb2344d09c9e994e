"""Each role runs against a nats-server configured with exactly what ``jetjobs permissions`` prints.

The server config holds one user per role whose ``permissions`` block is the
printed ``--format conf`` text itself. The scenario (tests/security/scenario.py)
must pass with no permissions violation (so no subject more is needed), and
fail with a PermissionDenied naming the subject when any one allow entry is
removed (so no subject less would do). By default the removal runs for a
representative entry of each kind per role; ``JETJOBS_PERMISSIONS_FULL=1``
removes every entry of every role (about 140 server runs, a few minutes).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jetjobs._permissions import Permissions, permissions
from jetjobs.cli import main
from jetjobs.testing import NatsServer
from jetjobs.transport._denied import _pattern
from tests.security import scenario

FULL = os.environ.get("JETJOBS_PERMISSIONS_FULL") == "1"
ROOT = Path(__file__).resolve().parents[2]


def blocks() -> dict[str, Permissions]:
    """The block of every role, as the scenario's services use them."""
    found = {}
    for role in scenario.ROLES:
        queues = [scenario.QUEUE, scenario.SPARE] if role == "provisioner" else [scenario.QUEUE]
        found[role] = permissions(role, queues, inbox_prefix=scenario.INBOX.get(role, "_INBOX"))
    return found


def server_conf(path: Path, roles: dict[str, Permissions]) -> Path:
    """A nats-server config: one user per role with its printed block, and an admin for the test's own reads."""
    users = [
        f'{{\nuser: "{role}"\npassword: "{scenario.PASSWORD}"\n{block.to_conf()}\n}}' for role, block in roles.items()
    ]
    users.append(f'{{user: "admin", password: "{scenario.PASSWORD}"}}')
    path.write_text("authorization {\n  users = [\n" + "\n".join(users) + "\n  ]\n}\n")
    return path


@contextlib.contextmanager
def server(tmp_path: Path, roles: dict[str, Permissions]) -> Iterator[NatsServer]:
    # -js and -sd from NatsServer's command line add to the config file (flags win over file values).
    conf = server_conf(tmp_path / "server.conf", roles)
    with NatsServer(store_dir=tmp_path / "store", extra_args=("-c", str(conf))) as nats_server:
        yield nats_server


async def test_every_role_runs_with_exactly_its_printed_permissions(tmp_path: Path) -> None:
    with server(tmp_path, blocks()) as nats_server:
        calls = scenario.Calls()

        async def run() -> None:
            calls.seen = (await scenario.everything(nats_server.url)).seen

        assert await scenario.run_watched(run) == []
    assert {"double:21", "flaky:k", "join:a+b", "undo:a", "part:big", "tick"} <= set(calls.seen)


def _kind(subject: str) -> str:
    """Entries of one kind differ only in the names of the objects they touch."""
    tokens = subject.split(".")
    if subject.startswith("$JS.API."):
        return ".".join(tokens[:4])
    return tokens[0] if not tokens[0].startswith("$") else ".".join(tokens[:2])


def removals() -> list[tuple[str, str]]:
    cases = []
    for role, block in blocks().items():
        seen_kinds: set[str] = set()
        for subject in [*block.publish_subjects, *block.subscribe_subjects]:
            kind = _kind(subject)
            if FULL or kind not in seen_kinds:
                cases.append((role, subject))
            seen_kinds.add(kind)
    return cases


@pytest.mark.slow
@pytest.mark.parametrize(("role", "subject"), removals())
def test_each_entry_is_needed(tmp_path: Path, role: str, subject: str) -> None:
    roles = blocks()
    roles[role] = roles[role].without(subject)
    with server(tmp_path, roles) as nats_server:
        # A process of its own: it exits at the first violation, however its services are doing.
        child = subprocess.run(
            [sys.executable, "-m", "tests.security.scenario", role, nats_server.url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    denied = [line.split("\t") for line in child.stdout.splitlines() if line.startswith("DENIED\t")]
    assert child.returncode == 3, f"{role} without {subject!r}: exit {child.returncode}\n{child.stdout[-3000:]}"
    _, operation, refused, message = denied[0]
    full = blocks()[role]
    lists = {"publish": full.publish_subjects, "subscribe": full.subscribe_subjects}
    assert subject in lists[operation], f"removed {subject!r}, but a {operation} was refused"
    assert _pattern(subject).fullmatch(refused), f"removed {subject!r}, but {refused!r} was refused"
    assert refused in message  # the one clear line names the subject


@pytest.mark.parametrize("role", scenario.ROLES)
def test_the_cli_prints_the_tested_blocks(role: str, capsys: pytest.CaptureFixture[str]) -> None:
    block = blocks()[role]
    queues = ",".join([scenario.QUEUE, scenario.SPARE] if role == "provisioner" else [scenario.QUEUE])
    args = ["permissions", "--role", role, "--queues", queues]
    args += ["--inbox-prefix", scenario.INBOX.get(role, "_INBOX")]
    assert main(args) == 0
    assert capsys.readouterr().out.strip() == block.to_conf()


def test_the_json_format_is_the_allow_lists(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["permissions", "--role", "scheduler", "--queues", "work", "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == permissions("scheduler", ["work"]).to_json()
    assert "jobs.work.*" in printed["publish"]["allow"]
