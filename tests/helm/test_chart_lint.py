"""helm lint --strict on every values set; yamllint (relaxed) on the chart's own YAML files."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import jsonschema
import pytest
import yaml
from helm_support import CHART, CI_VALUES, KUBE_VERSIONS, ROOT, name_of, run_helm
from yamllint import linter
from yamllint.config import YamlLintConfig

YAML_FILES = [
    CHART / "Chart.yaml",
    CHART / "values.yaml",
    *CI_VALUES,
    ROOT / "deploy" / "docker-compose.yml",
    ROOT / "deploy" / "otel-collector.yaml",
]


@pytest.mark.parametrize("values", CI_VALUES, ids=name_of)
def test_helm_lint_strict(helm: str, values: Path) -> None:
    # --kube-version: lint's deprecation checks run against the oldest supported version too.
    for kube in (KUBE_VERSIONS[0], KUBE_VERSIONS[-1]):
        out = run_helm(helm, "lint", "--strict", str(CHART), "-f", str(values), "--kube-version", kube)
        assert "1 chart(s) linted, 0 chart(s) failed" in out, out


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_yamllint_relaxed(path: Path) -> None:
    config = YamlLintConfig("extends: relaxed")
    problems = [
        f"{path.name}:{p.line}:{p.column} {p.level} {p.message} ({p.rule})"
        for p in linter.run(path.read_text(), config, str(path))
    ]
    assert not problems, "\n".join(problems)


def test_values_schema_is_valid_draft7() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    # The chart's own defaults and every ci set must satisfy it (helm checks the merge; this
    # checks each file on its own against the same schema, with defaults underneath).
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    jsonschema.Draft7Validator(schema).validate(defaults)


def test_chart_metadata() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["kubeVersion"] == ">=1.25.0-0"
    assert chart["type"] == "application"
    for f in ("README.md", "values.schema.json", "templates/NOTES.txt", "templates/_helpers.tpl"):
        assert (CHART / f).is_file(), f"{f} missing"


def value_paths(node: object, prefix: str = "") -> list[str]:
    """Documented value keys: leaves, except that whole blocks like resources count as one."""
    opaque = ("podSecurityContext", "containerSecurityContext", "resources", "strategy")
    if isinstance(node, dict) and node and not prefix.endswith(opaque):
        return [p for k, v in node.items() for p in value_paths(v, f"{prefix}.{k}" if prefix else k)]
    return [prefix]


def test_readme_documents_every_value() -> None:
    readme = (CHART / "README.md").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    missing = [p for p in value_paths(values) if f"| `{p}` |" not in readme]
    assert not missing, f"helm/jetjobs/README.md values table lacks: {missing}"


def test_helm_package(helm: str, tmp_path: Path) -> None:
    out = run_helm(helm, "package", str(CHART), "--destination", str(tmp_path))
    (archive,) = tmp_path.glob("jetjobs-*.tgz")
    assert str(archive) in out
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    for needed in ("Chart.yaml", "values.yaml", "values.schema.json", "README.md", "templates/NOTES.txt"):
        assert f"jetjobs/{needed}" in names
    assert not [n for n in names if n.startswith("jetjobs/ci/")], ".helmignore keeps the CI values out"
