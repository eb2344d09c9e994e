"""Every ci/*-values.yaml set rendered for several Kubernetes versions and checked.

- built-in objects against the Kubernetes JSON schemas of that version (kubernetes_validate, strict:
  unknown fields are errors; a missing schema, e.g. a removed API version, is a failure);
- ScaledObjects against KEDA's CRD models (cloudcoil-models-keda), ServiceMonitors structurally;
- invariants no schema can see: names, selectors vs. pod labels, autoscaler targets, PDB selectors,
  the grace period vs. the worker's --shutdown-grace-s, probe ports, security defaults, quantities.
"""

from __future__ import annotations

import re
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from cloudcoil.models.keda.v1alpha1 import ScaledObject
from helm_support import CI_VALUES, KUBE_VERSIONS, by_kind, name_of, pod_spec, workloads

CRD_GROUPS = {"keda.sh", "monitoring.coreos.com"}
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
QUANTITY = re.compile(r"^(?P<num>[+-]?(\d+(\.\d*)?|\.\d+))(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
SUFFIX = {
    None: Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}

MATRIX = [pytest.param(v, k, id=f"{name_of(v)}-k8s{k}") for v in CI_VALUES for k in KUBE_VERSIONS]


def parse_quantity(q: str | int | float) -> Decimal:
    """A Kubernetes resource quantity as a number (raises ValueError when it is not one)."""
    m = QUANTITY.match(str(q))
    if not m:
        raise ValueError(f"{q!r} is not a Kubernetes quantity")
    suffix = m["suffix"]
    if suffix and suffix[0] in "eE":
        return Decimal(m["num"]) * Decimal(10) ** int(suffix[1:])
    return Decimal(m["num"]) * SUFFIX[suffix]


def group_of(obj: dict[str, Any]) -> str:
    api = obj["apiVersion"]
    return api.split("/")[0] if "/" in api else ""


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec.get("initContainers", []) + spec["containers"]


def labels_match(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels", "matchExpressions"}, selector
    assert "matchExpressions" not in selector, "selectors are expected to be plain matchLabels"
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items())


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = obj["spec"]["template"]["metadata"]["labels"]
    return labels


def arg_value(args: list[str], flag: str) -> str:
    assert args.count(flag) == 1, f"{flag} must appear exactly once in {args}"
    return args[args.index(flag) + 1]


def test_ci_values_sets_exist() -> None:
    names = {name_of(p) for p in CI_VALUES}
    required = {"default", "keda", "keda-prometheus", "hpa", "existing-secret", "tls", "scheduler-disabled"}
    assert required <= names, f"missing ci values sets: {required - names}"


@pytest.mark.parametrize(("values", "kube"), MATRIX)
def test_builtin_objects_match_kubernetes_schemas(render, values: Path, kube: str) -> None:
    objs = render(values, kube)
    assert objs, "nothing rendered"
    problems = []
    for obj in objs:
        if group_of(obj) in CRD_GROUPS:
            continue
        what = f"{obj['kind']} {obj['metadata']['name']} ({obj['apiVersion']})"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # jsonschema internals, not our manifests
                kubernetes_validate.validate(obj, kube, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{what}: no schema in Kubernetes {kube} (removed or misspelt API)")
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{what}: {exc.caught.message} at {'/'.join(map(str, exc.caught.absolute_path))}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.mark.parametrize(("values", "kube"), MATRIX)
def test_custom_resources_are_valid(render, values: Path, kube: str) -> None:
    objs = render(values, kube)
    for obj in objs:
        if group_of(obj) not in CRD_GROUPS:
            continue
        assert (obj["apiVersion"], obj["kind"]) in {
            ("keda.sh/v1alpha1", "ScaledObject"),
            ("monitoring.coreos.com/v1", "ServiceMonitor"),
            ("monitoring.coreos.com/v1", "PrometheusRule"),
        }, f"unexpected custom resource {obj['apiVersion']} {obj['kind']}"
        if obj["kind"] == "PrometheusRule":
            for group in obj["spec"]["groups"]:
                assert group["name"]
                for rule in group["rules"]:
                    assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule.keys()
                    assert rule["alert"]
                    assert rule["expr"]
        elif obj["kind"] == "ScaledObject":
            model = ScaledObject.model_validate(obj)  # pydantic models generated from KEDA's CRD
            assert model.spec.triggers, "a ScaledObject needs triggers"
            assert model.spec.scale_target_ref.name
        else:
            spec = obj["spec"]
            assert set(spec) <= {
                "selector",
                "namespaceSelector",
                "endpoints",
                "podTargetLabels",
                "jobLabel",
                "targetLabels",
                "sampleLimit",
            }, spec.keys()
            assert spec["selector"]["matchLabels"], "ServiceMonitor needs a selector"
            assert spec["endpoints"], "ServiceMonitor needs endpoints"
            for ep in spec["endpoints"]:
                assert ep.get("port"), "endpoints must name the Service port"
                assert ep.get("path", "/metrics").startswith("/")
                for key in ("interval", "scrapeTimeout"):
                    if key in ep:
                        assert re.fullmatch(r"(\d+(ms|s|m|h))+", ep[key]), f"{key}={ep[key]!r}"


PER_SET = pytest.mark.parametrize("values", CI_VALUES, ids=name_of)


def deployments_of(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in by_kind(objs, "Deployment")}


@PER_SET
def test_names_are_dns_labels(render, values: Path) -> None:
    for obj in render(values):
        name = obj["metadata"]["name"]
        assert len(name) <= 63, f"{obj['kind']} name {name} is longer than 63"
        assert DNS1123_LABEL.match(name), f"{obj['kind']} name {name!r} is not a DNS-1123 label"
        for key, val in obj["metadata"].get("labels", {}).items():
            assert len(str(val)) <= 63, f"label {key}={val} is longer than 63"


@PER_SET
def test_selectors_match_only_their_own_pods(render, values: Path) -> None:
    deployments = deployments_of(render(values))
    for name, dep in deployments.items():
        selector = dep["spec"]["selector"]
        assert labels_match(selector, pod_labels(dep)), f"{name}: selector does not match its pods"
        for other_name, other in deployments.items():
            if other_name != name:
                assert not labels_match(selector, pod_labels(other)), f"{name} also selects {other_name}'s pods"


@PER_SET
def test_autoscalers_target_deployments_without_replicas(render, values: Path) -> None:
    objs = render(values)
    deployments = deployments_of(objs)
    scalers = by_kind(objs, "HorizontalPodAutoscaler") + by_kind(objs, "ScaledObject")
    for scaler in scalers:
        target = scaler["spec"]["scaleTargetRef"]
        assert target["name"] in deployments, f"{scaler['kind']} targets unknown {target['name']}"
        assert target.get("kind", "Deployment") == "Deployment"
        assert "replicas" not in deployments[target["name"]]["spec"], (
            f"{target['name']} is autoscaled but sets spec.replicas (every upgrade would reset it)"
        )
    targets = [s["spec"]["scaleTargetRef"]["name"] for s in scalers]
    assert len(targets) == len(set(targets)), f"a Deployment has two autoscalers: {targets}"


@PER_SET
def test_pdbs_select_pods(render, values: Path) -> None:
    objs = render(values)
    deployments = deployments_of(objs)
    for pdb in by_kind(objs, "PodDisruptionBudget"):
        selected = [n for n, d in deployments.items() if labels_match(pdb["spec"]["selector"], pod_labels(d))]
        assert selected, f"PDB {pdb['metadata']['name']} selects no Deployment's pods"
        assert ("minAvailable" in pdb["spec"]) != ("maxUnavailable" in pdb["spec"])


@PER_SET
def test_grace_period_exceeds_worker_shutdown_grace(render, values: Path) -> None:
    workers = 0
    for name, dep in deployments_of(render(values)).items():
        spec = pod_spec(dep)
        (container,) = spec["containers"]
        if container["args"][0] != "worker":
            continue
        workers += 1
        grace = int(arg_value(container["args"], "--shutdown-grace-s"))
        pre_stop = 0
        if "lifecycle" in container:
            pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
        assert spec["terminationGracePeriodSeconds"] > grace + pre_stop, (
            f"{name}: terminationGracePeriodSeconds {spec['terminationGracePeriodSeconds']} "
            f"is not above --shutdown-grace-s {grace} + preStop {pre_stop}"
        )
    assert workers, "no worker rendered"


@PER_SET
def test_probes_use_the_named_metrics_port(render, values: Path) -> None:
    for name, dep in deployments_of(render(values)).items():
        (container,) = pod_spec(dep)["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        # The web UI serves its probes on its own port; the other roles on --metrics-port.
        flag, port = ("--port", "http") if container["args"][0] == "ui" else ("--metrics-port", "metrics")
        assert int(arg_value(container["args"], flag)) == ports[port]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
            if kind in container:
                assert container[kind]["httpGet"]["port"] == port, f"{name}: {kind} not on the {port} port"


@PER_SET
def test_pod_security_defaults(render, values: Path) -> None:
    for wl in workloads(render(values)):
        name = wl["metadata"]["name"]
        spec = pod_spec(wl)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 10001
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert spec["automountServiceAccountToken"] is False
        assert spec["enableServiceLinks"] is False, f"{name}: service links would inject JETJOBS_* variables"
        assert spec["serviceAccountName"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        for c in containers(spec):
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert sc["runAsNonRoot"] is True
            assert c["imagePullPolicy"] in ("Always", "IfNotPresent", "Never")
            mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
            assert "emptyDir" in volumes[mounts["/tmp"]["name"]], f"{name}: needs a writable /tmp"
            for path, m in mounts.items():
                if path != "/tmp":
                    assert m.get("readOnly") is True, f"{name}: {path} should be mounted read-only"


@PER_SET
def test_resources_set_and_parse(render, values: Path) -> None:
    for wl in workloads(render(values)):
        name = wl["metadata"]["name"]
        for c in containers(pod_spec(wl)):
            resources = c["resources"]
            for res in ("cpu", "memory"):
                req = parse_quantity(resources["requests"][res])
                lim = parse_quantity(resources["limits"][res])
                assert 0 < req <= lim, f"{name}: {res} request {req} above limit {lim}"
        for v in pod_spec(wl)["volumes"]:
            if "sizeLimit" in v.get("emptyDir", {}):
                assert parse_quantity(v["emptyDir"]["sizeLimit"]) > 0


def test_parse_quantity() -> None:
    assert parse_quantity("100m") == Decimal("0.1")
    assert parse_quantity("1Gi") == 2**30
    assert parse_quantity("1e3") == 1000
    assert parse_quantity(2) == 2
    for bad in ("1GB", "abc", "1.2.3", ""):
        with pytest.raises(ValueError, match="not a Kubernetes quantity"):
            parse_quantity(bad)
