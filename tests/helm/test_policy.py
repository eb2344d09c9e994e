"""Policy scan with checkov (its own venv, offline: --skip-download).

Every ci/*-values.yaml set is rendered and scanned with `--framework kubernetes`, and
deploy/Dockerfile with `--framework dockerfile`. The only accepted findings are listed, each
with its reason, in checkov-skip.txt.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helm_support import CI_VALUES, ROOT, name_of, run_helm, template_args

SKIP_FILE = Path(__file__).with_name("checkov-skip.txt")


def skipped_checks() -> dict[str, str]:
    checks = {}
    for line in SKIP_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            check_id, _, reason = line.partition(" ")
            assert reason.strip(), f"{check_id} is skipped without a reason"
            checks[check_id] = reason.strip()
    return checks


def scan(checkov: str, target: Path, framework: str = "kubernetes") -> list[dict[str, Any]]:
    """Failed checks of one checkov run (the documented skips applied)."""
    where = ["-d", str(target)] if target.is_dir() else ["-f", str(target)]
    args = [checkov, *where, "--framework", framework, "--skip-download", "--quiet", "--compact"]
    args += ["--output", "json", "--skip-check", ",".join(skipped_checks())]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), f"checkov crashed:\n{proc.stderr[-3000:]}"
    reports = json.loads(proc.stdout) if proc.stdout.strip() else []
    reports = reports if isinstance(reports, list) else [reports]
    assert reports, f"checkov scanned nothing:\n{proc.stderr[-2000:]}"
    assert sum(r["summary"]["passed"] for r in reports) > 0, "checkov ran no check"
    return [f for r in reports for f in r["results"]["failed_checks"]]


def fail_on(failed: list[dict[str, Any]]) -> None:
    if failed:
        lines = {f"{f['check_id']} {f['check_name']}: {f['resource']} ({Path(f['file_path']).name})" for f in failed}
        pytest.fail("checkov findings:\n" + "\n".join(sorted(lines)), pytrace=False)


def render_to(helm: str, values: list[Path], out: Path) -> None:
    out.write_text(run_helm(helm, *template_args(values, "1.33.0")))


def test_skip_list_is_documented() -> None:
    checks = skipped_checks()
    assert checks, "checkov-skip.txt is empty"
    for check_id in checks:
        assert check_id.startswith(("CKV_K8S_", "CKV2_K8S_", "CKV_DOCKER_")), check_id


def test_rendered_chart_passes_checkov(helm: str, checkov: str, tmp_path: Path) -> None:
    for values in CI_VALUES:
        render_to(helm, [values], tmp_path / f"{name_of(values)}.yaml")
    fail_on(scan(checkov, tmp_path))


def test_dockerfile_passes_checkov(checkov: str) -> None:
    fail_on(scan(checkov, ROOT / "deploy" / "Dockerfile", framework="dockerfile"))


def test_checkov_catches_insecure_settings(helm: str, checkov: str, tmp_path: Path) -> None:
    """The scan is not vacuous: weakening the security defaults is reported."""
    values = tmp_path / "insecure.yaml"
    values.write_text(
        "containerSecurityContext:\n  allowPrivilegeEscalation: true\n  readOnlyRootFilesystem: false\n"
        "  privileged: true\npodSecurityContext: {}\nnetworkPolicy:\n  enabled: false\n"
    )
    out = tmp_path / "out"
    out.mkdir()
    render_to(helm, [values], out / "insecure.yaml")
    found = {f["check_id"] for f in scan(checkov, out)}
    assert {"CKV_K8S_16", "CKV_K8S_20", "CKV_K8S_22", "CKV2_K8S_6"} <= found, found
