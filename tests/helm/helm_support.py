"""Helpers shared by the deployment tests (tests/helm): paths, helm invocation, manifest lookups."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "jetjobs"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
TOOLS = ROOT / ".cache" / "k8s-tools"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"

# Oldest supported (Chart.yaml kubeVersion), two in between, newest kubernetes-validate ships.
KUBE_VERSIONS = ("1.25.0", "1.29.0", "1.33.0", "1.37.0")
# CRD groups the chart renders for; helm needs them as capabilities.
API_VERSIONS = ("keda.sh/v1alpha1", "monitoring.coreos.com/v1")
RELEASE = "rel"
NAMESPACE = "jobs"


class HelmError(Exception):
    """helm exited non-zero; the message is helm's stderr."""


def run_helm(helm: str, *args: str) -> str:
    proc = subprocess.run([helm, *args], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise HelmError(proc.stderr.strip())
    return proc.stdout


def template_args(values: list[Path], kube_version: str = "1.33.0", chart: Path = CHART) -> list[str]:
    args = ["template", RELEASE, str(chart), "--namespace", NAMESPACE, "--kube-version", kube_version]
    for api in API_VERSIONS:
        args += ["--api-versions", api]
    for v in values:
        args += ["-f", str(v)]
    return args


def parse_manifests(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def by_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o.get("kind") == kind]


def one(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objs if o.get("kind") == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, got {[o['metadata']['name'] for o in by_kind(objs, kind)]}"
    return found[0]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Container env as {name: entry}; duplicates are an error (the last one would silently win)."""
    names = [e["name"] for e in container.get("env", [])]
    dupes = {n for n in names if names.count(n) > 1}
    assert not dupes, f"duplicate env vars {dupes}"
    return {e["name"]: e for e in container.get("env", [])}


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def workloads(objs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    return (o for o in objs if o.get("kind") in ("Deployment", "Job"))


def name_of(path: Path) -> str:
    return path.name.removesuffix("-values.yaml")
