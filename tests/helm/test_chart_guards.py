"""Bad values must fail rendering with a message that says what is wrong.

Two layers: values.schema.json (types, patterns, unknown keys) and the `fail` guards of
templates/_validate.tpl (cross-field rules). Each case names the words the message must contain.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from helm_support import KUBE_VERSIONS, HelmError, run_helm, template_args

WORKER = {"name": "payments", "app": "services.payments.tasks:app", "queues": ["payments"]}


def worker(**changes: Any) -> dict[str, Any]:
    w = copy.deepcopy(WORKER)
    w.update(changes)
    return w


SCHEMA_CASES = {
    "worker without app": (
        {"workers": [{"name": "payments", "queues": ["payments"]}]},
        ["/workers/0", "app"],
    ),
    "app not module:attr": ({"workers": [worker(app="services/payments.py")]}, ["/workers/0/app", "pattern"]),
    "bad autoscaling type": (
        {"workers": [worker(autoscaling={"type": "vpa"})]},
        ["/workers/0/autoscaling/type", "keda", "hpa"],
    ),
    "queue name with upper case": (
        {"workers": [worker(queues=["Payments"])]},
        ["/workers/0/queues/0", "pattern"],
    ),
    "queue name with a dot": ({"workers": [worker(queues=["pay.ments"])]}, ["/workers/0/queues/0"]),
    "no queues": ({"workers": [worker(queues=[])]}, ["/workers/0/queues"]),
    "concurrency 0": ({"workers": [worker(concurrency=0)]}, ["/workers/0/concurrency", "minimum"]),
    "concurrency as text": ({"workers": [worker(concurrency="8")]}, ["/workers/0/concurrency"]),
    "processes 0": ({"workers": [worker(processes=0)]}, ["/workers/0/processes", "minimum"]),
    "nats url http": ({"nats": {"url": "http://nats:4222"}}, ["/nats/url", "pattern"]),
    "nats url without scheme": ({"nats": {"url": "nats.nats.svc:4222"}}, ["/nats/url"]),
    "one bad url in a list": ({"nats": {"url": "nats://a:4222,b:4222"}}, ["/nats/url"]),
    "unknown key in a worker": (
        {"workers": [worker(resoruces={})]},
        ["/workers/0", "resoruces", "not allowed"],
    ),
    "unknown top-level key": ({"worker": []}, ["worker", "not allowed"]),
    "worker name not a DNS label": ({"workers": [worker(name="Payments_Worker")]}, ["/workers/0/name"]),
    "unknown auth method": ({"nats": {"auth": {"method": "password"}}}, ["/nats/auth/method"]),
    "unknown config setting": ({"config": {"concurency": 4}}, ["/config", "concurency"]),
    "unknown queue setting": ({"config": {"queues": {"payments": {"max_len": 10}}}}, ["max_len"]),
    "bad queue name in config": (
        {"config": {"queues": {"Pay": {}}}},
        ["invalid propertyName 'Pay'", "pattern"],
    ),
    "secrets not allowed in config": ({"config": {"nats_password": "x"}}, ["nats_password", "not allowed"]),
    "bad namespace": ({"config": {"namespace": "Prod_EU"}}, ["/config/namespace"]),
    "bad otel protocol": ({"otel": {"protocol": "udp"}}, ["/otel/protocol"]),
    "monitoring endpoint with scheme": (
        {"keda": {"natsJetStream": {"monitoringEndpoint": "http://nats:8222"}}},
        ["/keda/natsJetStream/monitoringEndpoint"],
    ),
    "bad resource quantity": (
        {"workerDefaults": {"resources": {"limits": {"memory": "1GB"}}}},
        ["/workerDefaults/resources/limits/memory"],
    ),
    "negative grace": ({"workers": [worker(shutdownGraceSeconds=-1)]}, ["/workers/0/shutdownGraceSeconds"]),
    "image digest not sha256": ({"image": {"repository": "x", "digest": "latest"}}, ["/image/digest"]),
}


@pytest.mark.parametrize(("values", "expected"), list(SCHEMA_CASES.values()), ids=list(SCHEMA_CASES))
def test_schema_rejects(render_error, values: dict[str, Any], expected: list[str]) -> None:
    message = render_error(values)
    assert "values don't meet the specifications of the schema" in message, message
    for part in expected:
        assert part in message, f"{part!r} not in: {message}"


GUARD_CASES = {
    "keda settings on an hpa worker": (
        {"workers": [worker(autoscaling={"type": "hpa", "keda": {"lagThreshold": 5}})]},
        ["workers[payments]", "autoscaling.keda is set", '"hpa"'],
    ),
    "hpa settings on a keda worker": (
        {"workers": [worker(autoscaling={"type": "keda", "hpa": {"cpuAverageUtilization": 60}})]},
        ["workers[payments]", "autoscaling.hpa is set", '"keda"'],
    ),
    "hpa settings without autoscaling": (
        {"workers": [worker(autoscaling={"hpa": {"cpuAverageUtilization": 60}})]},
        ["autoscaling.hpa is set", '"none"'],
    ),
    "hpa cannot scale to zero": (
        {"workers": [worker(autoscaling={"type": "hpa", "minReplicas": 0})]},
        ["minReplicas=0", "needs autoscaling.type=keda"],
    ),
    "hpa without any metric": (
        {
            "workers": [
                worker(
                    autoscaling={
                        "type": "hpa",
                        "hpa": {"cpuAverageUtilization": 0, "backlogMetricType": "none"},
                    }
                )
            ]
        },
        ["has no metric"],
    ),
    "min above max": (
        {"workers": [worker(autoscaling={"type": "keda", "minReplicas": 5, "maxReplicas": 2})]},
        ["minReplicas (5) is above maxReplicas (2)"],
    ),
    "prometheus scale to zero on the workers' own metric": (
        {"workers": [worker(autoscaling={"type": "keda", "minReplicas": 0, "keda": {"trigger": "prometheus"}})]},
        ["scale to zero with the prometheus trigger", "autoscaling.keda.query"],
    ),
    "grace period equal to the worker's": (
        {"workers": [worker(shutdownGraceSeconds=25, terminationGracePeriodSeconds=25)]},
        ["terminationGracePeriodSeconds (25) must be greater than shutdownGraceSeconds (25)"],
    ),
    "grace period below the worker's": (
        {"workers": [worker(shutdownGraceSeconds=60, terminationGracePeriodSeconds=30)]},
        ["terminationGracePeriodSeconds (30)", "shutdownGraceSeconds (60)", "leave it unset to get 70"],
    ),
    "grace period eaten by the preStop sleep": (
        {"workers": [worker(shutdownGraceSeconds=25, preStopSleepSeconds=10, terminationGracePeriodSeconds=30)]},
        ["preStopSleepSeconds (10)"],
    ),
    "duplicate worker names": (
        {"workers": [worker(), worker(app="services.other.tasks:app")]},
        ["worker names must be unique"],
    ),
    "worker named like the scheduler": ({"workers": [worker(name="scheduler")]}, ['"scheduler" is taken']),
    "user/password auth without values": (
        {"nats": {"auth": {"method": "userPassword", "user": "app"}}},
        ["needs nats.auth.user and nats.auth.password", "existingSecret"],
    ),
    "token auth without token": ({"nats": {"auth": {"method": "token"}}}, ["needs nats.auth.token"]),
    "creds auth without creds": ({"nats": {"auth": {"method": "creds"}}}, ["needs nats.auth.creds"]),
    "nkey auth without seed": ({"nats": {"auth": {"method": "nkey"}}}, ["needs nats.auth.nkeySeed"]),
    "tls without ca": ({"nats": {"tls": {"enabled": True}}}, ["needs nats.tls.ca"]),
    "client cert without key": (
        {"nats": {"tls": {"enabled": True, "ca": "pem", "clientCert": True, "cert": "pem"}}},
        ["needs nats.tls.cert and nats.tls.key"],
    ),
    "existing service account without a name": (
        {"serviceAccount": {"create": False}},
        ["serviceAccount.name is required"],
    ),
    "name longer than 63": (
        {"fullnameOverride": "a" * 40, "workers": [worker(name="b" * 30)]},
        ["Kubernetes allows 63"],
    ),
    "service monitor without service": (
        {"metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}},
        ["needs metrics.service.enabled"],
    ),
}


@pytest.mark.parametrize(("values", "expected"), list(GUARD_CASES.values()), ids=list(GUARD_CASES))
def test_guard_rejects(render_error, values: dict[str, Any], expected: list[str]) -> None:
    message = render_error(values)
    assert "execution error" in message, f"expected a template guard, got: {message}"
    for part in expected:
        assert part in message, f"{part!r} not in: {message}"


def test_kube_version_below_chart_minimum_is_rejected(helm: str) -> None:
    with pytest.raises(
        HelmError,
        match=r"chart requires kubeVersion: >=1\.25\.0-0 which is incompatible with Kubernetes v1\.24",
    ):
        run_helm(helm, *template_args([], "1.24.17"))
    run_helm(helm, *template_args([], KUBE_VERSIONS[0]))  # the minimum itself renders


def test_valid_edge_values_render(render_values) -> None:
    """The guards are not over-eager: the limits themselves are accepted."""
    objs = render_values(
        {
            "workers": [
                worker(shutdownGraceSeconds=25, terminationGracePeriodSeconds=26),
                worker(name="mails", queues=["emails"], autoscaling={"type": "keda", "minReplicas": 0}),
            ]
        }
    )
    grace = {
        o["metadata"]["name"]: o["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        for o in objs
        if o["kind"] == "Deployment"
    }
    assert grace["rel-jetjobs-payments"] == 26
