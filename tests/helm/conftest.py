"""Fixtures for the deployment tests: real helm, hadolint, docker-compose and checkov binaries.

The tools are installed (pinned, idempotent) by scripts/install-k8s-tools.sh and
scripts/install-test-tools.sh into .cache/k8s-tools and .venv-checkov. helm is looked up in
.cache/k8s-tools first, then on PATH. When a tool is missing, the fixture runs its install
script once; if that fails too, the tests that need the tool are skipped with the reason —
except under CI (CI=true), where a missing tool is an error, so a green CI run means every
check really ran.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

try:
    import cloudcoil.models.keda  # noqa: F401
    import docker  # noqa: F401
    import jsonschema  # noqa: F401
    import kubernetes_validate  # noqa: F401
    import yamllint  # noqa: F401
except ImportError as exc:  # a setup mistake, not a reason to skip the deployment tests
    raise ImportError(f"tests/helm needs its Python packages: pip install -r requirements-helm.txt ({exc})") from exc

# The test modules import helm_support by name; make that work under any --import-mode.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from helm_support import CHECKOV, ROOT, TOOLS, HelmError, parse_manifests, run_helm, template_args


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@functools.cache
def _install(script: str, skip_checkov: bool) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SKIP_CHECKOV": "1" if skip_checkov else "0"}
    return subprocess.run(["bash", str(ROOT / "scripts" / script)], cwd=ROOT, capture_output=True, text=True, env=env)


def _find_tool(name: str, install_script: str) -> str:
    """Path of a pinned tool: .cache/k8s-tools, else PATH, else install it now."""
    local = TOOLS / name
    if os.access(local, os.X_OK):
        return str(local)
    on_path = shutil.which(name)
    if on_path:
        return on_path
    proc = _install(install_script, skip_checkov=True)
    if os.access(local, os.X_OK):
        return str(local)
    _unavailable(f"{name} is not installed and scripts/{install_script} failed: {proc.stderr.strip()[-800:]}")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def helm() -> str:
    return _find_tool("helm", "install-k8s-tools.sh")


@pytest.fixture(scope="session")
def hadolint() -> str:
    return _find_tool("hadolint", "install-test-tools.sh")


@pytest.fixture(scope="session")
def docker_compose() -> str:
    return _find_tool("docker-compose", "install-test-tools.sh")


@pytest.fixture(scope="session")
def checkov() -> str:
    if not os.access(CHECKOV, os.X_OK):
        proc = _install("install-test-tools.sh", skip_checkov=False)
        if not os.access(CHECKOV, os.X_OK):
            _unavailable(f"checkov could not be installed into .venv-checkov: {proc.stderr.strip()[-800:]}")
    return str(CHECKOV)


@pytest.fixture(scope="session")
def render(helm: str) -> Callable[..., list[dict[str, Any]]]:
    """render(values_file=None, kube_version="1.33.0") -> parsed objects.

    Cached: the matrix tests share renders of the same (values file, version).
    """

    @functools.cache
    def _text(values_file: Path | None, kube_version: str) -> str:
        return run_helm(helm, *template_args([values_file] if values_file else [], kube_version))

    def _render(values_file: Path | None = None, kube_version: str = "1.33.0") -> list[dict[str, Any]]:
        return parse_manifests(_text(values_file, kube_version))

    return _render


@pytest.fixture
def render_values(helm: str, tmp_path: Path) -> Callable[..., list[dict[str, Any]]]:
    """render_values({...values...}, kube_version="1.33.0") -> parsed objects."""
    counter = iter(range(1_000_000))

    def _render(values: dict[str, Any], kube_version: str = "1.33.0") -> list[dict[str, Any]]:
        path = tmp_path / f"values-{next(counter)}.yaml"
        path.write_text(yaml.safe_dump(values))
        return parse_manifests(run_helm(helm, *template_args([path], kube_version)))

    return _render


@pytest.fixture
def render_error(helm: str, tmp_path: Path) -> Callable[..., str]:
    """render_error({...values...}) -> helm's error message; fails the test if rendering succeeds."""

    def _render(values: dict[str, Any], kube_version: str = "1.33.0") -> str:
        path = tmp_path / "bad-values.yaml"
        path.write_text(yaml.safe_dump(values))
        try:
            run_helm(helm, *template_args([path], kube_version))
        except HelmError as exc:
            return str(exc)
        pytest.fail(f"rendering succeeded but should have failed for values {values}", pytrace=False)
        raise AssertionError("unreachable")

    return _render
