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
    # Step outputs of a few MB are stored in status records too: raise the 1 MB default.
    path.write_text("max_payload: 8MB\nauthorization {\n  users = [\n" + "\n".join(users) + "\n  ]\n}\n")
    return path


@contextlib.contextmanager
def server(tmp_path: Path, roles: dict[str, Permissions]) -> Iterator[NatsServer]:
    # -js and -sd from NatsServer's command line add to the config file (flags win over file values).
    conf = server_conf(tmp_path / "server.conf", roles)
    with NatsServer(store_dir=tmp_path / "store", extra_args=("-c", str(conf))) as nats_server:
        yield nats_server


def run_part(part: str, url: str) -> tuple[int, str, list[list[str]]]:
    """Run a part of the scenario in a process of its own, which exits at the first violation."""
    child = subprocess.run(
        [sys.executable, "-m", "tests.security.scenario", part, url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    denied = [line.split("\t") for line in child.stdout.splitlines() if line.startswith("DENIED\t")]
    return child.returncode, child.stdout[-3000:] + child.stderr[-3000:], denied


def test_every_role_runs_with_exactly_its_printed_permissions(tmp_path: Path) -> None:
    with server(tmp_path, blocks()) as nats_server:
        code, output, denied = run_part("all", nats_server.url)
    assert (code, denied) == (0, []), output


def _kind(subject: str) -> str:
    """Entries of one kind differ only in the objects they name (``$JS.API.STREAM.INFO``, ``$KV``, ``jobs``)."""
    tokens = subject.split(".")
    if subject.startswith("$JS.API."):
        return ".".join(tokens[:4])
    return ".".join(tokens[:2] if tokens[0] == "$JS" else tokens[:1])


def removals() -> list[tuple[str, str]]:
    """Every entry of every role with JETJOBS_PERMISSIONS_FULL=1; else the first of each kind per
    role, leaving out subjects already removed for an earlier role ($JS.API.INFO...)."""
    cases, tried = [], set()
    for role, block in blocks().items():
        kinds: set[str] = set()
        for subject in [*block.publish_subjects, *block.subscribe_subjects]:
            if FULL or (_kind(subject) not in kinds and subject not in tried):
                cases.append((role, subject))
            kinds.add(_kind(subject))
            tried.add(subject)
    return cases


@pytest.mark.slow
@pytest.mark.parametrize(("role", "subject"), removals())
def test_each_entry_is_needed(tmp_path: Path, role: str, subject: str) -> None:
    roles = blocks()
    roles[role] = roles[role].without(subject)
    with server(tmp_path, roles) as nats_server:
        code, output, denied = run_part(role, nats_server.url)
    assert code == 3, f"{role} without {subject!r}: exit {code}\n{output}"
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
