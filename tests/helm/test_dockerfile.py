"""deploy/Dockerfile: hadolint, the structure the deployment relies on, and the build context.

No Docker engine runs here, so the image is not built; instead the build context is computed
with docker-py's .dockerignore implementation and the Dockerfile's COPY sources are checked
against it, and the build recipe (wheel of the package + services on PYTHONPATH) is replayed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from docker.utils.build import exclude_paths
from helm_support import ROOT

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
HADOLINT_CONFIG = ROOT / "deploy" / ".hadolint.yaml"
BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|clang|build-essential|make|cmake|[a-z0-9.+-]+-dev|git|curl|wget)\b")
EXAMPLE_MODULES = (
    "services.payments.tasks",
    "services.notifications.tasks",
    "services.scheduler.schedules",
    "services.orders.main",
)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        word, _, rest = current.partition(" ")
        out.append((word.upper(), rest.strip()))
        current = ""
    return out


def stages(text: str) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for ins in instructions(text):
        if ins[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(ins)
    return result


def test_hadolint(hadolint: str) -> None:
    proc = subprocess.run(
        [hadolint, "--config", str(HADOLINT_CONFIG), "--format", "tty", "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"hadolint findings:\n{proc.stdout}{proc.stderr}"
    assert proc.stdout.strip() == ""
    config = yaml.safe_load(HADOLINT_CONFIG.read_text())
    assert config["failure-threshold"] == "warning"
    # every ignored rule is explained right above it in the config file
    text = HADOLINT_CONFIG.read_text()
    for rule in config.get("ignored", []):
        before = text[: text.index(f"- {rule}")].rstrip().splitlines()[-1]
        assert before.lstrip().startswith("#"), f"{rule} is ignored without a reason"


def test_hadolint_catches_problems(hadolint: str, tmp_path: Path) -> None:
    """The linter really runs with our config: a root, unpinned, shell-form image fails it."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y gcc\nCMD jetjobs --help\n")
    proc = subprocess.run(
        [hadolint, "--config", str(HADOLINT_CONFIG), "--no-color", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode != 0
    for rule in ("DL3007", "DL3009", "DL3025"):
        assert rule in proc.stdout, proc.stdout


def test_structure() -> None:
    text = DOCKERFILE.read_text()
    all_stages = stages(text)
    assert len(all_stages) >= 2, "multi-stage build expected"
    build, final = all_stages[0], all_stages[-1]
    assert re.match(r"\$\{PYTHON_IMAGE\} AS build$", build[0][1])
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.M), "python:3.11-slim based"
    assert final[0][1].startswith("${PYTHON_IMAGE}"), "final stage on the same slim base"
    final_dict: dict[str, list[str]] = {}
    for word, args in final:
        final_dict.setdefault(word, []).append(args)

    (user,) = final_dict["USER"]
    uid = user.split(":")[0]
    assert uid.isdigit(), f"USER must be a fixed numeric UID (runAsNonRoot can only check numbers), got {user}"
    assert int(uid) >= 10000, f"USER must be a non-root, non-system UID, got {user}"
    assert json.loads(final_dict["ENTRYPOINT"][-1]) == ["jetjobs"], 'exec-form ENTRYPOINT ["jetjobs"]'
    assert json.loads(final_dict["CMD"][-1]) == ["--help"]
    runs = " ".join(final_dict.get("RUN", []))
    assert "tzdata" in runs
    assert f"--uid {uid}" in runs, "the runtime user is created with the fixed UID"
    installs = " ".join(re.findall(r"apt-get install ([^&;]+)", runs))
    assert not BUILD_TOOLS.search(installs), f"build tools in the final stage: {installs}"
    assert "pip install" not in runs, "the final stage only copies the built venv"
    copies = final_dict["COPY"]
    assert all(c.startswith("--from=build ") for c in copies), f"final stage copies only from the build stage: {copies}"
    env = " ".join(final_dict["ENV"])
    for var in ("PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1", "PYTHONPATH=/app", "/opt/venv/bin"):
        assert var in env, f"{var} missing from the runtime ENV"
    assert final_dict["EXPOSE"] == ["9464 8080"]


def build_context() -> set[str]:
    patterns = [
        ln.strip()
        for ln in (ROOT / ".dockerignore").read_text().splitlines()
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    return set(exclude_paths(str(ROOT), patterns, dockerfile="deploy/Dockerfile"))


def test_build_context() -> None:
    context = build_context()
    for needed in ("pyproject.toml", "README.md"):
        assert needed in context, f"{needed} is not in the build context (pip needs it to build the wheel)"
    for ins, args in instructions(DOCKERFILE.read_text()):
        if ins != "COPY" or args.startswith("--from"):
            continue
        *sources, _dest = shlex.split(args)
        for src in sources:
            src = src.rstrip("/")
            assert src in context, f"COPY source {src} is excluded by .dockerignore or missing"
    assert any(p.startswith("services/") and p.endswith(".py") for p in context), "services/ must be in the image"
    assert any(p.startswith("framework/jetjobs/") for p in context)
    leaked = {
        p
        for p in context
        if p.split("/")[0] in {".git", ".venv", ".cache", "tests", "helm", ".venv-checkov"}
        or "__pycache__" in p
        or p.endswith((".pyc", ".creds"))
    }
    assert not leaked, f"the build context leaks {sorted(leaked)[:10]}"


@pytest.mark.slow
def test_build_recipe(tmp_path: Path) -> None:
    """Replays the build stage: wheel from the context, installed without the source tree, then
    the console script and the example services resolve the way the image runs them."""
    ctx = tmp_path / "context"
    for rel in sorted(build_context()):
        src = ROOT / rel
        if src.is_file():
            (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, ctx / rel)
    wheels = tmp_path / "wheels"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "--wheel-dir", str(wheels), str(ctx)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = wheels.glob("jetjobs-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert re.search(r"^jetjobs\s*=\s*jetjobs\.cli", z.read(entry_points).decode(), re.M), "console script jetjobs"
        assert "jetjobs/py.typed" in names
        for data in ("jetjobs/ui/static/htmx.min.js", "jetjobs/ui/templates/base.html"):
            assert data in names, f"{data} missing: the web UI needs its package data"
        assert not [n for n in names if n.startswith(("services/", "tests/"))], "only the framework goes in the wheel"
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
    )
    app = ctx  # /app in the image: services/ on PYTHONPATH
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("JETJOBS_")},
        "PYTHONPATH": f"{site}{os.pathsep}{app}",
        "PYTHONNOUSERSITE": "1",
    }
    probe = (
        "import importlib, sys, jetjobs, jetjobs.cli\n"
        f"assert jetjobs.__file__.startswith({str(site)!r}), jetjobs.__file__\n"
        f"for m in {EXAMPLE_MODULES!r}: importlib.import_module(m)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from jetjobs.cli import main; sys.argv=['jetjobs','--help']; main()",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for role in ("worker", "scheduler", "provision"):
        assert role in proc.stdout, f"`jetjobs --help` does not list the {role} command"
