"""Issue 21: the Kubernetes manifests render from the values file and validate against the Kubernetes API
schema (kubernetes-validate, strict: an unknown or misspelt field fails), with probes, resources, secrets
by reference and the settings the production guard asks for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from deploy import k8s
from services.common.production import production_problems
from services.common.settings import CommonSettings

KUBERNETES_VERSION = "1.33.0"  # oldest version a county cluster is expected to run; newer ones accept it too


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    rendered = k8s.dump(k8s.render(k8s.load_values()))
    return list(yaml.safe_load_all(rendered))  # what `kubectl apply -f` reads


def test_every_object_validates_against_the_kubernetes_schema(objects: list[dict[str, Any]]) -> None:
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in objects)
    assert len(kinds) == 1 + 2 * (len(k8s.SERVICES) + 1), kinds  # the migration Job; each service and the workbench
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_a_misspelt_field_is_caught(objects: list[dict[str, Any]]) -> None:
    broken = yaml.safe_load(yaml.safe_dump(objects[1]))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_services_have_probes_resources_and_secrets_by_reference(objects: list[dict[str, Any]]) -> None:
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    assert set(deployments) == {f"credit-exchange-{s}" for s in (*k8s.SERVICES, k8s.WORKBENCH)}
    deployments.pop("credit-exchange-workbench")  # no Kafka user: its own test below
    for name, deployment in deployments.items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["resources"]["requests"]["cpu"], name
        assert container["resources"]["limits"]["memory"], name
        env = _env(container)
        assert env["DATABASE_URL"] == {"secretKeyRef": {"name": "exchange-database", "key": "url"}}
        assert "secretKeyRef" in env["EXCHANGE_KAFKA_PASSWORD"]
        secret_names = [k for k in env if "PASSWORD" in k or k == "DATABASE_URL"]
        assert all(isinstance(env[k], dict) for k in secret_names), name  # never a literal in a manifest
    ingest = deployments["credit-exchange-ingest"]["spec"]["template"]["spec"]
    assert {v["name"] for v in ingest["volumes"]} >= {"signing-key", "public-keys"}


def test_the_rendered_settings_pass_the_production_guard(objects: list[dict[str, Any]]) -> None:
    ingest = next(o for o in objects if o["metadata"]["name"] == "credit-exchange-ingest")
    env = _env(ingest["spec"]["template"]["spec"]["containers"][0])
    plain = {k: v for k, v in env.items() if isinstance(v, str)}
    # The secrets come from the cluster; stand in values the operator's secrets would hold.
    settings = CommonSettings(
        **plain,
        DATABASE_URL="postgresql://exchange:a-long-random-one@pg:5432/exchange",
        EXCHANGE_KAFKA_PASSWORD="another-long-random-one",
    )
    assert settings.environment == "production"
    assert production_problems(settings, signing_key_file=Path(plain["INGEST_SIGNING_KEY_FILE"])) == []


def test_the_workbench_reaches_every_service_by_its_kubernetes_service_and_has_no_kafka_settings(
    objects: list[dict[str, Any]],
) -> None:
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    deployment = by_name["Deployment", "credit-exchange-workbench"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "services.workbench"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env = _env(container)
    assert env["WORKBENCH_TOKEN"] == {"secretKeyRef": {"name": "exchange-workbench-token", "key": "token"}}
    assert env["DATABASE_URL"] == {"secretKeyRef": {"name": "exchange-database", "key": "url"}}
    assert not [k for k in env if "KAFKA" in k]
    for service in k8s.SERVICES:
        url = env[f"WORKBENCH_{service.upper()}_URL"]
        assert ("Service", url.removeprefix("http://")) in by_name, url  # a Service that the manifests define
    # What the workbench process reads is exactly what the manifest sets; in production its guard passes.
    from services.workbench.settings import WorkbenchSettings

    plain = {k: v for k, v in env.items() if isinstance(v, str)}
    settings = WorkbenchSettings(
        **{k.removeprefix("WORKBENCH_").lower(): v for k, v in plain.items() if k.startswith("WORKBENCH_")},
        EXCHANGE_ENVIRONMENT=plain["EXCHANGE_ENVIRONMENT"],
        DATABASE_URL="postgresql://exchange:a-long-random-one@pg:5432/exchange",
    )
    assert settings.ingest_url == "http://credit-exchange-ingest"
    assert production_problems(settings, uses_kafka=False) == []


def test_the_bridge_reaches_ingest_and_publish_in_the_cluster_with_its_credentials_from_secrets(
    objects: list[dict[str, Any]],
) -> None:
    bridge = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "credit-exchange-bridge")
    env = _env(bridge["spec"]["template"]["spec"]["containers"][0])
    assert env["BRIDGE_INGEST_URL"] == "http://credit-exchange-ingest"
    assert env["BRIDGE_PUBLISH_URL"] == "http://credit-exchange-publish"
    for name in ("BRIDGE_PROVINCE_TOKEN", "BRIDGE_PUBLISH_TOKEN", "BRIDGE_NATIONAL_TOKENS"):
        assert env[name]["secretKeyRef"]["name"] == "exchange-bridge", name
    assert "BRIDGE_PROVINCE_URL" not in env  # no province configured in the example values: nothing is pushed
    # The key sealing webhook secrets at rest: a required Secret (the bridge's guard refuses to run without).
    assert env["BRIDGE_SECRETS_KEY"] == {"secretKeyRef": {"name": "exchange-bridge", "key": "webhook-secrets-key"}}


def test_deploy_readme_names_every_variable_the_pods_get(objects: list[dict[str, Any]]) -> None:
    """deploy/README.md's table says where each variable of every container comes from (a service's own
    `<SERVICE>_…` by its pattern)."""
    readme = (Path(__file__).resolve().parents[2] / "deploy" / "README.md").read_text(encoding="utf-8")
    services = [s.upper() for s in (*k8s.SERVICES, k8s.WORKBENCH)]
    names = {
        variable["name"]
        for o in objects
        for c in o.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
        for variable in c.get("env", [])
    }

    def documented(name: str) -> bool:
        generic = name
        for service in services:
            generic = generic.replace(f"_{service}_", "_<SERVICE>_")
            if generic.startswith(f"{service}_") and generic.removeprefix(f"{service}_") in ("HOST", "PORT"):
                generic = "<SERVICE>_" + generic.removeprefix(f"{service}_")
        return f"`{name}`" in readme or f"`{generic}`" in readme

    assert names
    assert sorted(n for n in names if not documented(n)) == []
