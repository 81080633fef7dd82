"""Kubernetes manifests for the exchange, rendered from a values file.

    python -m deploy.k8s render [-f deploy/kubernetes/values.yaml] > exchange.yaml
    kubectl apply -f exchange.yaml

Plain manifests rather than a Helm chart: Helm is not installable from the registries this project uses
(Debian, PyPI), so the suite could not render and check a chart on a fresh machine. The renderer is plain
Python (dicts in, YAML out), the values file is the one place an operator edits, and
`tests/unit/test_kubernetes_manifests.py` validates every object against the Kubernetes API schema
(`kubernetes-validate`, strict: unknown fields are errors).

Kafka and PostgreSQL are external (a managed PostgreSQL, a three-broker Kafka): their addresses are values,
their passwords Secrets the operator creates (names in the values file, never the secrets themselves).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from copy import deepcopy
from pathlib import Path
from typing import Any

import yaml

VALUES_FILE = Path(__file__).resolve().parent / "kubernetes" / "values.yaml"
SERVICES = ("ingest", "grading", "sanctions", "publish", "supervision", "reports", "bridge")
"""The services that use Kafka (each with its own Kafka user)."""
WORKBENCH = "workbench"
"""The department workbench: no Kafka user; it reaches the services through their Kubernetes Services."""
PORT = 8000  # inside the pod every service listens on one port; Services expose it as `http`

Obj = dict[str, Any]


def load_values(path: Path = VALUES_FILE, overrides: Mapping[str, Any] | None = None) -> Obj:
    values: Obj = yaml.safe_load(path.read_text())
    return _merge(values, dict(overrides or {}))


def _merge(base: Obj, extra: Mapping[str, Any]) -> Obj:
    merged = deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _labels(values: Obj, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "credit-exchange",
        "app.kubernetes.io/instance": values["name"],
        "app.kubernetes.io/component": component,
    }


def _secret_env(name: str, secret: Mapping[str, str]) -> Obj:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret["name"], "key": secret["key"]}}}


def _common_env(values: Obj, service: str | None) -> list[Obj]:
    """Settings every process shares (services/common/settings.py). DATABASE_URL comes whole from a Secret:
    it embeds the password. The workbench gets no broker settings: it has no Kafka user."""
    kafka = values["kafka"]
    env: list[Obj] = [
        {"name": "EXCHANGE_ENVIRONMENT", "value": values["environment"]},
        _secret_env("DATABASE_URL", values["postgres"]["urlSecret"]),
        {"name": "EXCHANGE_LOG_LEVEL", "value": values["logLevel"]},
    ]
    if service == WORKBENCH:
        return env
    env += [
        {"name": "KAFKA_BOOTSTRAP", "value": kafka["bootstrap"]},
        {"name": "EXCHANGE_TOPIC_PREFIX", "value": values["topicPrefix"]},
        {"name": "EXCHANGE_KAFKA_REPLICATION_FACTOR", "value": str(kafka["replicationFactor"])},
        {"name": "EXCHANGE_KAFKA_SECURITY_PROTOCOL", "value": kafka["securityProtocol"]},
    ]
    if kafka["securityProtocol"] != "PLAINTEXT":
        user = kafka["users"][service or "admin"]
        env += [
            {"name": "EXCHANGE_KAFKA_SASL_MECHANISM", "value": kafka["saslMechanism"]},
            {"name": "EXCHANGE_KAFKA_USERNAME", "value": user["username"]},
            _secret_env("EXCHANGE_KAFKA_PASSWORD", user["passwordSecret"]),
        ]
    return env


def _bridge_env(values: Obj) -> list[Obj]:
    """The province's endpoint, and what the bridge posts to ingest (national lists) and publish (repairs
    forwarded by 信用中国) inside the cluster, with credentials from Secrets (optional: unset, that half of
    the bridge stays off and says so)."""
    bridge = values["bridge"]
    env: list[Obj] = [
        {"name": "BRIDGE_INGEST_URL", "value": f"http://{values['name']}-ingest"},
        {"name": "BRIDGE_PUBLISH_URL", "value": f"http://{values['name']}-publish"},
    ]
    if bridge.get("provinceUrl"):
        env.append({"name": "BRIDGE_PROVINCE_URL", "value": bridge["provinceUrl"]})
    for name, key in (
        ("BRIDGE_PROVINCE_TOKEN", "provinceTokenSecret"),
        ("BRIDGE_PUBLISH_TOKEN", "publishTokenSecret"),
        ("BRIDGE_NATIONAL_TOKENS", "nationalTokensSecret"),
    ):
        ref = _secret_env(name, bridge[key])
        ref["valueFrom"]["secretKeyRef"]["optional"] = True
        env.append(ref)
    # Not optional: without its key the bridge would seal webhook secrets with the development key.
    env.append(_secret_env("BRIDGE_SECRETS_KEY", bridge["secretsKeySecret"]))
    return env


def _container(values: Obj, service: str) -> Obj:
    spec = values["services"][service]
    prefix = service.upper()
    env = [
        *_common_env(values, service),
        {"name": f"{prefix}_HOST", "value": "0.0.0.0"},  # noqa: S104 (inside the pod; the Service fronts it)
        {"name": f"{prefix}_PORT", "value": str(PORT)},
    ]
    mounts: list[Obj] = []
    if service == WORKBENCH:
        # It reports and reads through the services' public APIs with its own credential, as a system does.
        env.append(_secret_env("WORKBENCH_TOKEN", values["workbench"]["tokenSecret"]))
        env += [{"name": f"WORKBENCH_{svc.upper()}_URL", "value": f"http://{values['name']}-{svc}"} for svc in SERVICES]
    if service == "bridge":
        env += _bridge_env(values)
    if service == "ingest":
        env.append({"name": "INGEST_SIGNING_KEY_FILE", "value": "/var/run/exchange/keys/receipt-ed25519.pem"})
        env.append({"name": "INGEST_PUBLIC_KEYS_DIR", "value": "/var/run/exchange/public-keys"})
        # One worker process per pod (a container sees the node's cores, not its CPU request): scale by replicas.
        env.append({"name": "INGEST_WORKERS", "value": "1"})
        mounts += [
            {"name": "signing-key", "mountPath": "/var/run/exchange/keys", "readOnly": True},
            {"name": "public-keys", "mountPath": "/var/run/exchange/public-keys", "readOnly": True},
        ]
    probe = {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 10, "timeoutSeconds": 5}
    return {
        "name": service,
        "image": values["image"],
        "imagePullPolicy": "IfNotPresent",
        "command": ["python", "-m", f"services.{service}"],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": env,
        "resources": deepcopy(spec["resources"]),
        # Liveness: the process answers. Readiness: its dependencies (for ingest, PostgreSQL only: a Kafka
        # outage is absorbed by the outbox, so ingest stays ready and keeps taking records).
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 20, "failureThreshold": 3},
        "readinessProbe": {**probe, "failureThreshold": 3},
        "startupProbe": {**probe, "periodSeconds": 5, "failureThreshold": 60},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [*mounts, {"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
    }


def _deployment(values: Obj, service: str) -> Obj:
    labels = _labels(values, service)
    volumes: list[Obj] = [{"name": "tmp", "emptyDir": {}}]
    if service == "ingest":
        keys = values["signingKey"]
        volumes += [
            {
                "name": "signing-key",
                "secret": {
                    "secretName": keys["secretName"],
                    "defaultMode": 0o400,
                    "items": [{"key": keys["key"], "path": "receipt-ed25519.pem"}],
                },
            },
            {"name": "public-keys", "secret": {"secretName": keys["publicKeysSecretName"], "optional": True}},
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{values['name']}-{service}", "namespace": values["namespace"], "labels": labels},
        "spec": {
            "replicas": values["services"][service]["replicas"],
            "selector": {"matchLabels": labels},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": str(PORT)},
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": {"fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [_container(values, service)],
                    "volumes": volumes,
                },
            },
        },
    }


def _service(values: Obj, service: str) -> Obj:
    labels = _labels(values, service)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"{values['name']}-{service}", "namespace": values["namespace"], "labels": labels},
        "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]},
    }


def _migrate_job(values: Obj) -> Obj:
    """`exchange migrate && exchange topics ensure` once per release, before the Deployments roll."""
    labels = _labels(values, "migrate")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": f"{values['name']}-migrate-{values['release']}",
            "namespace": values["namespace"],
            "labels": labels,
        },
        "spec": {
            "backoffLimit": 3,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "automountServiceAccountToken": False,
                    "containers": [
                        {
                            "name": "migrate",
                            "image": values["image"],
                            "command": ["sh", "-c", "exchange migrate && exchange topics ensure"],
                            "env": _common_env(values, None),
                            "resources": deepcopy(values["migrate"]["resources"]),
                            "securityContext": {
                                "runAsNonRoot": True,
                                "runAsUser": 10001,
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                },
            },
        },
    }


def render(values: Obj) -> list[Obj]:
    objects: list[Obj] = [_migrate_job(values)]
    for service in (*SERVICES, WORKBENCH):
        objects += [_deployment(values, service), _service(values, service)]
    return objects


def dump(objects: list[Obj]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False, allow_unicode=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.k8s", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    render_cmd = sub.add_parser("render", help="print the manifests for a values file")
    render_cmd.add_argument("-f", "--values", type=Path, default=VALUES_FILE)
    args = parser.parse_args(argv)
    try:
        values = load_values(args.values)
        sys.stdout.write(dump(render(values)))
    except (OSError, KeyError, yaml.YAMLError) as exc:
        print(f"deploy.k8s: {args.values}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
