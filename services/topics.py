"""The Kafka topics the exchange needs, derived from the catalogue (record, outcome and audit topics,
plus a dead-letter topic for each consumed record topic)."""

from __future__ import annotations

from services.common.catalogue import load_catalogue
from services.common.kafka import TopicSpec, outcome_topic, record_topic
from services.common.settings import CommonSettings


def topic_specs(settings: CommonSettings, *, partitions: int = 6, replication: int = 1) -> list[TopicSpec]:
    catalogue = load_catalogue(settings.schemas_dir)
    specs: list[TopicSpec] = []
    for name, topic in sorted(catalogue.topics.items()):
        full = settings.topic(name)
        if topic.kind == "outcome":
            specs.append(outcome_topic(full, partitions=partitions, replication=replication))
        else:
            # Record and audit topics are evidence: kept forever. So are dead letters, until re-driven.
            specs.append(record_topic(full, partitions=partitions, replication=replication))
        if topic.kind in ("record", "outcome"):
            # Any topic a service consumes may dead-letter (sanctions consumes grade and objection outcomes).
            specs.append(record_topic(full + ".dlq", partitions=1, replication=replication))
    return specs
