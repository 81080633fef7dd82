"""The service manifests (services/manifests.py) are the one declaration of what each consuming service
consumes and derives: a service that subscribes to, or is granted, anything its manifest does not declare
fails here, and so does the audit replay naming a service's tables in SQL of its own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI

from services.common.catalogue import load_catalogue
from services.common.dlq import redrive_topic
from services.common.kafka import AclOperation, ResourceType
from services.common.manifest import ReplaySeed
from services.common.settings import CommonSettings
from services.manifests import BY_NAME, MANIFESTS
from services.topics import CONSUMERS, kafka_acls

SETTINGS = CommonSettings(topic_prefix="exchange.")
CATALOGUE = load_catalogue(SETTINGS.schemas_dir)
RECORDS = {name for name, topic in CATALOGUE.topics.items() if topic.kind == "record"}
SERVICES = Path(__file__).resolve().parents[2] / "services"


def _declared(service: str) -> set[str]:
    manifest = BY_NAME[service]
    return {SETTINGS.topic(name) for name in manifest.consumed(tuple(sorted(RECORDS)))}


def _app(service: str) -> FastAPI:
    if service == "grading":
        from services.grading.app import create_app as grading
        from services.grading.settings import GradingSettings

        return grading(GradingSettings(topic_prefix="exchange."))
    if service == "sanctions":
        from services.sanctions.app import create_app as sanctions
        from services.sanctions.settings import SanctionsSettings

        return sanctions(SanctionsSettings(topic_prefix="exchange."))
    if service == "supervision":
        from services.supervision.app import create_app as supervision
        from services.supervision.settings import SupervisionSettings

        return supervision(SupervisionSettings(topic_prefix="exchange."))
    if service == "reports":
        from services.reports.app import create_app as reports
        from services.reports.settings import ReportsSettings

        return reports(ReportsSettings(topic_prefix="exchange."))
    if service == "bridge":
        from services.bridge.app import create_app as bridge
        from services.bridge.settings import BridgeSettings

        return bridge(BridgeSettings(topic_prefix="exchange."))
    from services.publish.app import create_app as publish
    from services.publish.settings import PublishSettings

    return publish(PublishSettings(topic_prefix="exchange."))


def test_every_declared_topic_and_table_exists_and_names_its_service() -> None:
    assert tuple(m.name for m in MANIFESTS) == CONSUMERS
    assert len({m.schema for m in MANIFESTS}) == len(MANIFESTS)
    for manifest in MANIFESTS:
        for name in (*manifest.outcomes, *manifest.replay_seeds):
            assert CATALOGUE.topics[name].kind == "outcome", (manifest.name, name)
        assert manifest.tables or manifest.replay is ReplaySeed.NONE, manifest.name
        for table in manifest.tables:
            assert table.service == manifest.name
            assert not set(table.key) & set(table.compared), (manifest.name, table.table)


@pytest.mark.parametrize("service", [m.name for m in MANIFESTS])
def test_a_service_subscribes_to_exactly_what_its_manifest_declares(service: str) -> None:
    app = _app(service)
    assert app.state.manifest is BY_NAME[service]
    assert set(app.state.subscriptions) == _declared(service) | {redrive_topic("exchange.", service)}


@pytest.mark.parametrize("service", [m.name for m in MANIFESTS])
def test_a_service_may_read_exactly_the_topics_its_manifest_declares(service: str) -> None:
    granted = {
        acl.resource_name
        for acl in kafka_acls(SETTINGS)
        if acl.principal == f"User:{service}"
        and acl.operation is AclOperation.READ
        and acl.resource_type is ResourceType.TOPIC
    }
    assert granted == _declared(service) | {redrive_topic("exchange.", service)}


def test_only_the_shared_consumer_app_builds_a_subscription() -> None:
    """A service cannot subscribe around its manifest: the consumer spec is built in one place."""
    builders = {
        str(path.relative_to(SERVICES))
        for path in SERVICES.rglob("*.py")
        if "ConsumerSpec(" in path.read_text(encoding="utf-8")
    }
    assert builders <= {"common/consumer_service.py", "common/runtime.py"}


def test_the_audit_replay_holds_no_service_specific_sql() -> None:
    schemas = "|".join(m.schema for m in MANIFESTS)
    pattern = re.compile(rf'\b(FROM|INTO|UPDATE|JOIN|TABLE)\s+"?({schemas})"?\.', re.IGNORECASE)
    for path in (SERVICES / "audit").glob("*.py"):
        found = pattern.findall(path.read_text(encoding="utf-8"))
        assert not found, (path.name, found)


def test_every_rebuilt_service_names_its_schema_nowhere_in_its_sql() -> None:
    """The audit replay rebuilds each service in a scratch schema through its own store and migrations, so
    none may name its live schema in SQL (publish's once did, and was rebuilt in a scratch database)."""
    for manifest in (m for m in MANIFESTS if m.replay is not ReplaySeed.NONE):
        pattern = re.compile(
            rf'\b(FROM|INTO|UPDATE|JOIN|TABLE|ON|FUNCTION|EXISTS)\s+"?{manifest.schema}"?\.[a-z_]', re.IGNORECASE
        )
        root = SERVICES / manifest.name
        paths = [*root.glob("store*.py"), *root.glob("store/*.py"), *root.glob("migrations/versions/*.py")]
        assert paths, manifest.name
        for path in paths:
            found = pattern.findall(path.read_text(encoding="utf-8"))
            assert not found, (str(path.relative_to(SERVICES)), found)


def test_the_bridge_reads_every_outcome_topic_of_the_catalogue_and_no_record_topic() -> None:
    """The unified feed, webhooks and the province carry every outcome: a new outcome topic in the catalogue
    must be named in the bridge's manifest, or subscribers would silently miss it."""
    outcomes = {name for name, topic in CATALOGUE.topics.items() if topic.kind == "outcome"}
    assert set(BY_NAME["bridge"].consumed(tuple(sorted(RECORDS)))) == outcomes
