"""What the chart renders for each feature: roles and args, graceful drain, autoscaling, secrets,
OTEL, config, provisioning hooks, metrics. Values come from the ci/ sets (the same files the
schema/lint/policy tests use) or from small inline values."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_support import (
    CHART,
    CI_VALUES,
    HelmError,
    by_kind,
    env_of,
    one,
    parse_manifests,
    pod_spec,
    run_helm,
    template_args,
)

CI = {p.name.removesuffix("-values.yaml"): p for p in CI_VALUES}
HOOK_EVENTS = "pre-install,pre-upgrade"


def container(obj: dict[str, Any]) -> dict[str, Any]:
    (c,) = pod_spec(obj)["containers"]
    return c


def volumes(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in pod_spec(obj)["volumes"]}


def mounted_file(obj: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    """The volume and key that provide the file at `path` inside the container; fails if none does."""
    for m in container(obj)["volumeMounts"]:
        prefix = m["mountPath"].rstrip("/") + "/"
        if path.startswith(prefix):
            vol = volumes(obj)[m["name"]]
            rel = path[len(prefix) :]
            source = vol.get("secret") or vol.get("configMap")
            assert source, f"{path} is on a volume that is neither a Secret nor a ConfigMap"
            keys = {i["path"]: i["key"] for i in source.get("items", [])}
            assert m.get("readOnly") is True
            return vol, keys.get(rel, rel)
    raise AssertionError(f"no volume mounted at {path}")


def secret_data(objs: list[dict[str, Any]], name: str, key: str) -> str:
    return base64.b64decode(one(objs, "Secret", name)["data"][key]).decode()


def is_hook(obj: dict[str, Any]) -> bool:
    return "helm.sh/hook" in obj["metadata"].get("annotations", {})


# --- roles, args, graceful drain -------------------------------------------------------------


def test_default_release(render) -> None:
    objs = render(CI["default"])
    deployments = {d["metadata"]["name"]: d for d in by_kind(objs, "Deployment")}
    assert set(deployments) == {"rel-jetjobs-payments", "rel-jetjobs-notifications", "rel-jetjobs-scheduler"}
    assert container(deployments["rel-jetjobs-payments"])["args"] == [
        "worker",
        "services.payments.tasks:app",
        "--queues",
        "payments",
        "--shutdown-grace-s",
        "25",
        "--metrics-port",
        "9464",
    ]
    assert container(deployments["rel-jetjobs-scheduler"])["args"] == [
        "scheduler",
        "services.scheduler.schedules:app",
        "--metrics-port",
        "9464",
    ]
    assert deployments["rel-jetjobs-scheduler"]["spec"]["replicas"] == 2
    assert deployments["rel-jetjobs-payments"]["spec"]["replicas"] == 1
    # grace 25 s + 10 s margin for nak'ing and draining; no preStop hook when none is asked for
    assert pod_spec(deployments["rel-jetjobs-payments"])["terminationGracePeriodSeconds"] == 35
    assert "lifecycle" not in container(deployments["rel-jetjobs-payments"])
    # rollouts keep capacity: a new pod must be ready before an old one stops
    assert deployments["rel-jetjobs-payments"]["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pdbs = {p["metadata"]["name"] for p in by_kind(objs, "PodDisruptionBudget")}
    assert pdbs == set(deployments)
    assert not by_kind(objs, "ScaledObject")
    assert not by_kind(objs, "HorizontalPodAutoscaler")
    assert not by_kind(objs, "Secret"), "no credentials configured, no Secret expected"
    assert one(objs, "ServiceAccount", "rel-jetjobs")["automountServiceAccountToken"] is False


def test_worker_options(render) -> None:
    objs = render(CI["scheduler-disabled"])
    assert not [d for d in by_kind(objs, "Deployment") if "scheduler" in d["metadata"]["name"]]
    assert {p["metadata"]["name"] for p in by_kind(objs, "PodDisruptionBudget")} == {"rel-jetjobs-reports"}
    dep = one(objs, "Deployment", "rel-jetjobs-reports")
    spec, c = pod_spec(dep), container(dep)
    assert c["args"][:4] == ["worker", "services.payments.tasks:app", "--queues", "reports"]
    assert c["args"][c["args"].index("--concurrency") + 1] == "4"
    assert c["args"][c["args"].index("--processes") + 1] == "2"
    assert c["args"][c["args"].index("--shutdown-grace-s") + 1] == "120"
    assert spec["terminationGracePeriodSeconds"] == 150
    assert dep["spec"]["replicas"] == 3
    assert c["resources"]["limits"] == {"cpu": "2", "memory": "1Gi"}
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert spec["tolerations"][0]["key"] == "dedicated"
    assert dep["spec"]["template"]["metadata"]["labels"]["team"] == "reporting"
    assert dep["spec"]["template"]["metadata"]["annotations"]["example.com/team"] == "reporting"
    assert env_of(c)["REPORTS_BUCKET"]["value"] == "s3://reports"
    assert one(objs, "PodDisruptionBudget", "rel-jetjobs-reports")["spec"] == {
        "minAvailable": 2,
        "selector": dep["spec"]["selector"],
    }


def test_prestop_sleep_extends_the_grace_period(render) -> None:
    dep = one(render(CI["nkey"]), "Deployment", "rel-jetjobs-payments")
    assert container(dep)["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    assert pod_spec(dep)["terminationGracePeriodSeconds"] == 40 + 5 + 10


def test_worker_defaults_merge_under_entries(render_values) -> None:
    objs = render_values(
        {
            "workerDefaults": {"shutdownGraceSeconds": 50, "resources": {"limits": {"memory": "2Gi"}}},
            "workers": [
                {"name": "a", "app": "m.a:app", "queues": ["a"], "resources": {"requests": {"cpu": "300m"}}},
                {
                    "name": "b",
                    "app": "m.b:app",
                    "queues": ["b"],
                    "shutdownGraceSeconds": 5,
                    "pdb": {"enabled": False},
                },
            ],
        }
    )
    a, b = one(objs, "Deployment", "rel-jetjobs-a"), one(objs, "Deployment", "rel-jetjobs-b")
    assert container(a)["resources"] == {
        "requests": {"cpu": "300m", "memory": "128Mi"},
        "limits": {"cpu": "1", "memory": "2Gi"},
    }
    assert pod_spec(a)["terminationGracePeriodSeconds"] == 60
    assert pod_spec(b)["terminationGracePeriodSeconds"] == 15
    assert {p["metadata"]["name"] for p in by_kind(objs, "PodDisruptionBudget")} == {
        "rel-jetjobs-a",
        "rel-jetjobs-scheduler",
    }


# --- autoscaling -----------------------------------------------------------------------------


def test_keda_nats_jetstream_triggers(render) -> None:
    objs = render(CI["keda"])
    so = one(objs, "ScaledObject", "rel-jetjobs-payments")
    assert "replicas" not in one(objs, "Deployment", "rel-jetjobs-payments")["spec"]
    assert so["spec"]["minReplicaCount"] == 1
    assert so["spec"]["maxReplicaCount"] == 20
    assert so["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"] == {
        "stabilizationWindowSeconds": 120
    }
    triggers = so["spec"]["triggers"]
    assert {t["type"] for t in triggers} == {"nats-jetstream"}
    # one per consumer: payments has all three priorities, refunds only high and normal (config)
    assert [(t["metadata"]["stream"], t["metadata"]["consumer"]) for t in triggers] == [
        ("ACME_JOBS_payments", "payments-high"),
        ("ACME_JOBS_payments", "payments-normal"),
        ("ACME_JOBS_payments", "payments-low"),
        ("ACME_JOBS_refunds", "refunds-high"),
        ("ACME_JOBS_refunds", "refunds-normal"),
    ]
    for t in triggers:
        md = t["metadata"]
        assert md["natsServerMonitoringEndpoint"] == "nats-headless.nats.svc.cluster.local:8222"
        assert md["account"] == "$G"
        assert md["lagThreshold"] == "16"
        assert md["activationLagThreshold"] == "0"
        assert all(isinstance(v, str) for v in md.values()), "KEDA metadata values must be strings"
    zero = one(objs, "ScaledObject", "rel-jetjobs-notifications")["spec"]
    assert zero["minReplicaCount"] == 0
    assert {t["metadata"]["activationLagThreshold"] for t in zero["triggers"]} == {"1"}


def test_stream_names_without_namespace(render_values) -> None:
    objs = render_values(
        {
            "workers": [{"name": "w", "app": "m:app", "queues": ["q-1"], "autoscaling": {"type": "keda"}}],
            "config": {"namespace": "eu-west"},
        }
    )
    streams = {t["metadata"]["stream"] for t in one(objs, "ScaledObject", "rel-jetjobs-w")["spec"]["triggers"]}
    assert streams == {"EU_WEST_JOBS_q-1"}  # as framework/jetjobs/_names.py: upper case, '-' -> '_'
    objs = render_values({"workers": [{"name": "w", "app": "m:app", "queues": ["q"], "autoscaling": {"type": "keda"}}]})
    assert {t["metadata"]["stream"] for t in one(objs, "ScaledObject", "rel-jetjobs-w")["spec"]["triggers"]} == {
        "JOBS_q"
    }


def test_keda_prometheus_trigger_and_scale_to_zero(render) -> None:
    objs = render(CI["keda-prometheus"])
    (trigger,) = one(objs, "ScaledObject", "rel-jetjobs-payments")["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    md = trigger["metadata"]
    assert md["serverAddress"].startswith("http://kube-prometheus-stack-prometheus.")
    # one value per (queue, priority) before summing: every worker pod reports the whole backlog
    assert md["query"] == 'sum(max by (queue, priority) (jetjobs_queue_backlog{queue=~"payments"}))'
    assert md["threshold"] == "25"
    zero = one(objs, "ScaledObject", "rel-jetjobs-notifications")["spec"]
    assert zero["minReplicaCount"] == 0
    assert zero["cooldownPeriod"] == 120
    assert "jetstream_consumer_num_pending" in zero["triggers"][0]["metadata"]["query"]


def test_hpa(render) -> None:
    objs = render(CI["hpa"])
    hpa = one(objs, "HorizontalPodAutoscaler", "rel-jetjobs-payments")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert "replicas" not in one(objs, "Deployment", "rel-jetjobs-payments")["spec"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 12)
    cpu, ext = hpa["spec"]["metrics"]
    assert cpu["resource"]["target"] == {"type": "Utilization", "averageUtilization": 75}
    assert ext["type"] == "External"
    assert ext["external"]["metric"]["name"] == "jetjobs_queue_backlog"
    assert ext["external"]["metric"]["selector"]["matchExpressions"] == [
        {"key": "queue", "operator": "In", "values": ["payments", "refunds"]}
    ]
    assert ext["external"]["target"] == {"type": "AverageValue", "averageValue": "30"}
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    pods = one(objs, "HorizontalPodAutoscaler", "rel-jetjobs-notifications")["spec"]["metrics"]
    assert [m["type"] for m in pods] == ["Resource", "Pods"]
    assert pods[1]["pods"]["metric"]["name"] == "jetjobs_jobs_in_flight"


# --- NATS connection, secrets, TLS -----------------------------------------------------------


def all_containers(objs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(o, c) for o in objs if o["kind"] in ("Deployment", "Job") for c in pod_spec(o)["containers"]]


def test_existing_secrets_and_service_account(render) -> None:
    objs = render(CI["existing-secret"])
    assert not by_kind(objs, "Secret"), "existing secrets must not be re-created"
    assert not by_kind(objs, "ServiceAccount")
    for obj, c in all_containers(objs):
        env = env_of(c)
        assert env["JETJOBS_NATS_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": "nats-connection",
            "key": "url",
        }
        assert env["JETJOBS_NATS_USER"]["valueFrom"]["secretKeyRef"] == {
            "name": "nats-connection",
            "key": "username",
        }
        assert env["JETJOBS_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "nats-connection",
            "key": "password",
        }
        assert c["envFrom"] == [{"configMapRef": {"name": "shared-service-settings"}}]
        assert c["image"] == "registry.example.com/platform/jetjobs@sha256:" + "0123456789abcdef" * 4
        assert c["imagePullPolicy"] == "Always"
        spec = pod_spec(obj)
        assert spec["serviceAccountName"] == "jobs-runner"
        assert spec["imagePullSecrets"] == [{"name": "regcred"}]


def test_tls_and_creds_from_chart_secrets(render) -> None:
    objs = render(CI["tls"])
    values = yaml.safe_load(CI["tls"].read_text())["nats"]
    for obj, c in all_containers(objs):
        env = env_of(c)
        assert "JETJOBS_NATS_PASSWORD" not in env
        assert "JETJOBS_NATS_TOKEN" not in env
        expected = {
            "JETJOBS_NATS_CREDS_FILE": values["auth"]["creds"],
            "JETJOBS_NATS_TLS_CA_FILE": values["tls"]["ca"],
            "JETJOBS_NATS_TLS_CERT_FILE": values["tls"]["cert"],
            "JETJOBS_NATS_TLS_KEY_FILE": values["tls"]["key"],
        }
        for var, content in expected.items():
            vol, key = mounted_file(obj, env[var]["value"])
            # hooks run before the release's Secrets exist: they must use the hook copies
            secret = one(objs, "Secret", vol["secret"]["secretName"])
            assert is_hook(secret) == is_hook(obj), f"{obj['metadata']['name']} uses {secret['metadata']['name']}"
            assert secret_data(objs, secret["metadata"]["name"], key) == content
            assert vol["secret"]["defaultMode"] == 0o440
    assert env_of(all_containers(objs)[0][1])["JETJOBS_NATS_URL"]["value"].startswith("tls://")


def test_nkey_and_ca_only_tls_from_existing_secrets(render) -> None:
    objs = render(CI["nkey"])
    assert not by_kind(objs, "Secret")
    for obj, c in all_containers(objs):
        env = env_of(c)
        assert "JETJOBS_NATS_TLS_CERT_FILE" not in env
        assert "JETJOBS_NATS_TLS_KEY_FILE" not in env
        vol, key = mounted_file(obj, env["JETJOBS_NATS_NKEY_SEED_FILE"]["value"])
        assert (vol["secret"]["secretName"], key) == ("jobs-nkey", "seed")
        vol, key = mounted_file(obj, env["JETJOBS_NATS_TLS_CA_FILE"]["value"])
        assert (vol["secret"]["secretName"], key) == ("nats-ca", "ca.crt")


def test_token_auth(render) -> None:
    objs = render(CI["token"])
    for obj, c in all_containers(objs):
        ref = env_of(c)["JETJOBS_NATS_TOKEN"]["valueFrom"]["secretKeyRef"]
        assert secret_data(objs, ref["name"], ref["key"]) == "s3cr3t-token-for-ci"
        assert is_hook(one(objs, "Secret", ref["name"])) == is_hook(obj)


# --- OTEL, config, environment contract ------------------------------------------------------


def test_otel_environment(render) -> None:
    objs = render(CI["tls"])
    env = env_of(container(one(objs, "Deployment", "rel-jetjobs-payments")))
    assert env["JETJOBS_OTEL"]["value"] == "true"
    assert env["OTEL_SERVICE_NAME"]["value"] == "payments"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel-collector.observability.svc.cluster.local:4317"
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"]["value"] == "grpc"
    assert env["OTEL_TRACES_SAMPLER"]["value"] == "parentbased_traceidratio"
    assert env["OTEL_TRACES_SAMPLER_ARG"]["value"] == "0.25"
    attrs = dict(kv.split("=", 1) for kv in env["OTEL_RESOURCE_ATTRIBUTES"]["value"].split(","))
    assert attrs["deployment.environment"] == "production"
    assert attrs["k8s.deployment.name"] == "rel-jetjobs-payments"
    assert attrs["k8s.pod.name"] == "$(POD_NAME)"  # expanded by the kubelet from the env var above it
    names = [e["name"] for e in container(one(objs, "Deployment", "rel-jetjobs-payments"))["env"]]
    assert names.index("POD_NAME") < names.index("OTEL_RESOURCE_ATTRIBUTES")
    sched = env_of(container(one(objs, "Deployment", "rel-jetjobs-scheduler")))
    assert sched["OTEL_SERVICE_NAME"]["value"] == "scheduler"
    default_env = env_of(container(one(render(CI["default"]), "Deployment", "rel-jetjobs-payments")))
    assert not [n for n in default_env if n.startswith("OTEL_") or n == "JETJOBS_OTEL"], "tracing is opt-in"


def test_config_file(render) -> None:
    objs = render(CI["keda"])
    values = yaml.safe_load(CI["keda"].read_text())
    cm = one(objs, "ConfigMap", "rel-jetjobs-config")
    config = yaml.safe_load(cm["data"]["jetjobs.yaml"])
    assert config["namespace"] == "acme"
    assert config["queues"] == values["config"]["queues"]
    assert config["log_format"] == "json"
    hook_cm = one(objs, "ConfigMap", "rel-jetjobs-config-provision")
    assert hook_cm["data"] == cm["data"]
    assert is_hook(hook_cm)
    for obj, c in all_containers(objs):
        vol, key = mounted_file(obj, env_of(c)["JETJOBS_CONFIG_FILE"]["value"])
        assert vol["configMap"]["name"] == ("rel-jetjobs-config-provision" if is_hook(obj) else "rel-jetjobs-config")
        assert key == "jetjobs.yaml"


def test_config_change_rolls_the_pods(render, render_values) -> None:
    before = one(render(CI["default"]), "Deployment", "rel-jetjobs-payments")
    after = one(render_values({"config": {"log_level": "DEBUG"}}), "Deployment", "rel-jetjobs-payments")
    key = "checksum/config"
    assert (
        before["spec"]["template"]["metadata"]["annotations"][key]
        != after["spec"]["template"]["metadata"]["annotations"][key]
    )


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name.removesuffix("-values.yaml"))
def test_environment_and_config_accepted_by_the_framework(render, values: Path, monkeypatch) -> None:
    """The real jetjobs settings loader accepts every JETJOBS_* name and the rendered config file."""
    from jetjobs._settings import Settings, check_environment

    for key in list(__import__("os").environ):
        if key.upper().startswith("JETJOBS_"):
            monkeypatch.delenv(key)
    objs = render(values)
    for _obj, c in all_containers(objs):
        check_environment({e["name"]: "x" for e in c.get("env", [])})
    config = yaml.safe_load(one(objs, "ConfigMap", "rel-jetjobs-config")["data"]["jetjobs.yaml"])
    Settings(**config)


# --- provisioning hooks, metrics, notes ------------------------------------------------------


def test_provision_hook_jobs(render) -> None:
    objs = render(CI["scheduler-disabled"])
    jobs = {j["metadata"]["annotations"]["jetjobs/app"]: j for j in by_kind(objs, "Job")}
    assert set(jobs) == {"services.payments.tasks:app", "services.orders.main:app"}
    objs = render(CI["default"])
    jobs = {j["metadata"]["annotations"]["jetjobs/app"]: j for j in by_kind(objs, "Job")}
    assert set(jobs) == {
        "services.payments.tasks:app",
        "services.notifications.tasks:app",
        "services.scheduler.schedules:app",
    }
    for app, job in jobs.items():
        ann = job["metadata"]["annotations"]
        assert ann["helm.sh/hook"] == HOOK_EVENTS
        assert ann["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
        assert job["spec"]["backoffLimit"] == 3
        assert job["spec"]["activeDeadlineSeconds"] == 300
        assert container(job)["args"] == ["provision", app]
        assert pod_spec(job)["restartPolicy"] == "Never"
        assert pod_spec(job)["serviceAccountName"] == "rel-jetjobs-provision"
    # everything a hook Job uses is itself a hook that runs earlier (lower weight)
    weight = {
        o["metadata"]["name"]: int(o["metadata"]["annotations"]["helm.sh/hook-weight"]) for o in objs if is_hook(o)
    }
    assert weight["rel-jetjobs-provision"] < weight["rel-jetjobs-provision-payments"]
    assert weight["rel-jetjobs-config-provision"] < weight["rel-jetjobs-provision-payments"]


def test_metrics_service_and_service_monitor(render) -> None:
    objs = render(CI["keda-prometheus"])
    svc = one(objs, "Service", "rel-jetjobs-metrics")
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["ports"] == [{"name": "metrics", "port": 9464, "targetPort": "metrics", "protocol": "TCP"}]
    selector = svc["spec"]["selector"]
    pods = {
        o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"]
        for o in objs
        if o["kind"] in ("Deployment", "Job")
    }
    selected = {n for n, labels in pods.items() if all(labels.get(k) == v for k, v in selector.items())}
    assert selected == {"rel-jetjobs-payments", "rel-jetjobs-notifications", "rel-jetjobs-scheduler"}
    sm = one(objs, "ServiceMonitor", "rel-jetjobs-metrics")
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert all(svc["metadata"]["labels"].get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items())
    assert sm["spec"]["endpoints"][0]["port"] == "metrics"
    assert sm["spec"]["endpoints"][0]["path"] == "/metrics"
    assert not by_kind(render(CI["default"]), "ServiceMonitor"), "ServiceMonitor is opt-in"


def test_prometheus_rule_from_queue_alerts(render, render_values) -> None:
    rule = one(render(CI["keda-prometheus"]), "PrometheusRule", "rel-jetjobs-alerts")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    rules = {r["alert"]: r for r in rule["spec"]["groups"][0]["rules"]}
    backlog, errors = rules["JetjobsQueueBacklog"], rules["JetjobsQueueErrorRate"]
    assert (
        backlog["expr"]
        == 'sum by (queue) (max by (queue, priority) (shop_jobs_queue_backlog{queue="payments"})) > 1000'
    )
    assert errors["expr"] == (
        'sum(rate(shop_jobs_jobs_total{queue="payments",outcome=~"retried|failed|dead"}[5m]))'
        ' / sum(rate(shop_jobs_jobs_total{queue="payments"}[5m])) > 0.01'
    )
    assert backlog["labels"] == {"severity": "warning", "queue": "payments"}
    assert backlog["for"] == "5m"
    assert not by_kind(render(CI["default"]), "PrometheusRule"), "PrometheusRule is opt-in"
    with pytest.raises(HelmError, match=r"needs a queue in config\.queues with alert_backlog or alert_error_rate"):
        render_values({"metrics": {"prometheusRule": {"enabled": True}}})


def test_notes_render(helm: str, tmp_path: Path) -> None:
    """NOTES.txt is rendered by `helm install` only; render it here through a copy of the chart."""
    chart = tmp_path / "jetjobs"
    shutil.copytree(CHART, chart)
    shutil.copy(chart / "templates" / "NOTES.txt", chart / "notes-source.txt")
    (chart / "templates" / "zz-notes-preview.yaml").write_text(
        'notes: |\n{{ tpl (.Files.Get "notes-source.txt") . | indent 2 }}\n'
    )
    out = run_helm(helm, *template_args([CI["keda"]], chart=chart), "--show-only", "templates/zz-notes-preview.yaml")
    notes = parse_manifests(out)[0]["notes"]
    line = "rel-jetjobs-payments: services.payments.tasks:app on queues payments,refunds"
    assert f"{line} (KEDA nats-jetstream, 1..20 replicas)" in notes
    assert "SIGKILL after 70s, jobs get 60s to finish" in notes
    assert "kubectl -n jobs get pods -l app.kubernetes.io/instance=rel" in notes


def test_network_policy(render, render_values) -> None:
    objs = render(CI["default"])
    np = one(objs, "NetworkPolicy", "rel-jetjobs")
    assert np["spec"]["policyTypes"] == ["Ingress"]
    assert np["spec"]["ingress"] == [{"ports": [{"port": "metrics", "protocol": "TCP"}]}]
    selector = np["spec"]["podSelector"]["matchLabels"]
    for obj in objs:
        if obj["kind"] in ("Deployment", "Job"):
            labels = obj["spec"]["template"]["metadata"]["labels"]
            assert all(labels.get(k) == v for k, v in selector.items()), f"{obj['metadata']['name']} not covered"
    peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    nats = {
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "nats"}}}],
        "ports": [{"port": 4222, "protocol": "TCP"}],
    }
    np = one(
        render_values({"networkPolicy": {"metricsFrom": [peer], "egress": [nats]}}),
        "NetworkPolicy",
        "rel-jetjobs",
    )
    assert np["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert np["spec"]["ingress"][0]["from"] == [peer]
    dns, rule = np["spec"]["egress"]
    assert {p["port"] for p in dns["ports"]} == {53}
    assert rule == nats
    assert not by_kind(render_values({"networkPolicy": {"enabled": False}}), "NetworkPolicy")


# --- the web UI ------------------------------------------------------------------------------


def test_web_ui_is_off_by_default_and_read_only_when_on(render, render_values) -> None:
    assert not [d for d in by_kind(render(CI["default"]), "Deployment") if d["metadata"]["name"].endswith("-ui")]
    objs = render_values({"ui": {"enabled": True, "app": "services.payments.tasks:app"}})
    ui = container(one(objs, "Deployment", "rel-jetjobs-ui"))
    assert ui["args"] == ["ui", "services.payments.tasks:app", "--host", "0.0.0.0", "--port", "8080", "--read-only"]
    assert "JETJOBS_UI_BASIC_AUTH" not in env_of(ui)
    assert env_of(ui)["JETJOBS_NATS_URL"]["value"].startswith("nats://")
    service = one(objs, "Service", "rel-jetjobs-ui")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    policy = one(objs, "NetworkPolicy", "rel-jetjobs-ui")
    assert policy["spec"]["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "ui"


def test_web_ui_auth_from_a_secret_and_actions_when_asked(render) -> None:
    objs = render(CI["existing-secret"])
    ui = container(one(objs, "Deployment", "rel-jetjobs-ui"))
    assert "--read-only" not in ui["args"]
    assert ui["args"][ui["args"].index("--trace-url") + 1] == "https://jaeger.example.com/trace/{trace_id}"
    ref = env_of(ui)["JETJOBS_UI_BASIC_AUTH"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "jetjobs-ui-auth", "key": "auth"}
    policy = one(objs, "NetworkPolicy", "rel-jetjobs-ui")
    assert policy["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"
    }
