"""The Kafka topics the exchange needs, derived from the catalogue (record, outcome and audit topics,
plus a dead-letter topic for each consumed record topic), and who may use which (ACLs, SECURITY.md)."""

from __future__ import annotations

from services.common.catalogue import load_catalogue
from services.common.dlq import redrive_topic
from services.common.kafka import (
    AclBinding,
    AclOperation,
    PatternType,
    ResourceType,
    TopicSpec,
    outcome_topic,
    record_topic,
)
from services.common.settings import CommonSettings
from services.manifests import MANIFESTS

# The consuming services and what they read come from their manifests (services/manifests.py).
CONSUMERS = tuple(m.name for m in MANIFESTS)
REDRIVE_MS = str(30 * 24 * 3600 * 1000)  # a re-driven copy is applied within minutes; the dead letter stays
# One Kafka (SASL/SCRAM) user per party; the name is the role. `admin` (super user) only administers.
KAFKA_USERS = ("ingest", *CONSUMERS, "county", "auditor")
# The catalogue says which topics exist; this says which service's outbox relay writes each outcome topic.
OUTCOME_PRODUCERS: dict[str, str] = {
    "outcomes.grades": "grading",
    "outcomes.sanctions": "sanctions",
    "outcomes.disclosures": "publish",
    "outcomes.objections": "publish",
    "outcomes.repairs": "publish",
    "outcomes.supervision": "supervision",
    "outcomes.lists": "publish",
}
# Outcome topics a consuming service reads besides every record topic, as its manifest declares.
EXTRA_CONSUMED: dict[str, tuple[str, ...]] = {m.name: m.outcomes for m in MANIFESTS if m.outcomes}


def topic_specs(settings: CommonSettings, *, partitions: int = 6, replication: int | None = None) -> list[TopicSpec]:
    """Every topic with its configuration; replication defaults to EXCHANGE_KAFKA_REPLICATION_FACTOR."""
    replicas = replication if replication is not None else settings.kafka_replication_factor
    catalogue = load_catalogue(settings.schemas_dir)
    specs: list[TopicSpec] = []
    for name, topic in sorted(catalogue.topics.items()):
        full = settings.topic(name)
        if topic.kind == "outcome":
            specs.append(outcome_topic(full, partitions=partitions, replication=replicas))
        else:
            # Record and audit topics are evidence: kept forever. So are dead letters, until re-driven.
            specs.append(record_topic(full, partitions=partitions, replication=replicas))
        if topic.kind in ("record", "outcome"):
            # Any topic a service consumes may dead-letter (sanctions consumes grade and objection outcomes).
            specs.append(record_topic(full + ".dlq", partitions=1, replication=replicas))
    for service in CONSUMERS:
        # `exchange dlq redrive` sends a dead letter back here after a fix; only this service reads it, so
        # the record topics (evidence, read by everyone) are never written twice (docs/decisions.md).
        redrive = redrive_topic(settings.topic_prefix, service)
        specs.append(TopicSpec(redrive, 1, replicas, {"retention.ms": REDRIVE_MS}))
    return specs


def kafka_acls(settings: CommonSettings) -> list[AclBinding]:
    """The ACLs of a secure cluster (deny by default, StandardAuthorizer):

    - ingest (its outbox relay) alone writes the record topics;
    - grading, sanctions, publish read the record topics (sanctions also grade and objection outcomes) with
      their own consumer group, write their own outcome topics, the audit topic (access log) and the
      `.dlq` of each topic they consume;
    - the county platform reads the outcome topics, with consumer groups named `<prefix>county…`;
    - the auditor reads every topic of the exchange (records, outcomes, audit, dead letters).
    """
    catalogue = load_catalogue(settings.schemas_dir)
    kinds: dict[str, list[str]] = {"record": [], "outcome": [], "audit": []}
    for name, topic in sorted(catalogue.topics.items()):
        kinds.setdefault(topic.kind, []).append(name)
    unowned = [name for name in kinds["outcome"] if name not in OUTCOME_PRODUCERS]
    if unowned:
        raise ValueError(
            f"outcome topic(s) {', '.join(unowned)} of the catalogue have no producing service: "
            "add them to OUTCOME_PRODUCERS in services/topics.py"
        )
    t = settings.topic
    acls: list[AclBinding] = []

    def allow(user: str, operation: AclOperation, kind: ResourceType, name: str, *, prefixed: bool = False) -> None:
        pattern = PatternType.PREFIXED if prefixed else PatternType.LITERAL
        acls.append(AclBinding(f"User:{user}", operation, kind, name, pattern))

    for name in kinds["record"]:
        allow("ingest", AclOperation.WRITE, ResourceType.TOPIC, t(name))
    for name in kinds["audit"]:  # read-back of records and receipts is access-logged (issue 21)
        allow("ingest", AclOperation.WRITE, ResourceType.TOPIC, t(name))
    for manifest in MANIFESTS:
        service = manifest.name
        consumed = manifest.consumed(tuple(kinds["record"]))
        for name in consumed:
            allow(service, AclOperation.READ, ResourceType.TOPIC, t(name))
            allow(service, AclOperation.WRITE, ResourceType.TOPIC, t(name) + ".dlq")
        # Prefixed: a rebuild instance (SANCTIONS_INSTANCE=sanctions-rebuild) has a group of its own.
        allow(service, AclOperation.READ, ResourceType.GROUP, t(service), prefixed=True)
        for name in kinds["outcome"]:
            if OUTCOME_PRODUCERS[name] == service:
                allow(service, AclOperation.WRITE, ResourceType.TOPIC, t(name))
        for name in kinds["audit"]:
            allow(service, AclOperation.WRITE, ResourceType.TOPIC, t(name))
        # Its re-drive topic; the operator's `exchange dlq redrive` writes it as the admin user.
        allow(service, AclOperation.READ, ResourceType.TOPIC, redrive_topic(settings.topic_prefix, service))
    for name in kinds["outcome"]:
        allow("county", AclOperation.READ, ResourceType.TOPIC, t(name))
    allow("county", AclOperation.READ, ResourceType.GROUP, t("county"), prefixed=True)
    if settings.topic_prefix:
        allow("auditor", AclOperation.READ, ResourceType.TOPIC, settings.topic_prefix, prefixed=True)
    else:
        allow("auditor", AclOperation.READ, ResourceType.TOPIC, "*")  # no prefix: every topic
    allow("auditor", AclOperation.READ, ResourceType.GROUP, t("audit"), prefixed=True)
    return acls
