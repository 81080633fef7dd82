"""The ACL plan of a secure cluster (services/topics.py: kafka_acls), against the catalogue as it is: a new
outcome topic without a producing service, or a second writer of record topics, fails here first."""

from __future__ import annotations

from services.common.catalogue import load_catalogue
from services.common.kafka import AclOperation, PatternType, ResourceType
from services.common.settings import CommonSettings
from services.topics import CONSUMERS, OUTCOME_PRODUCERS, kafka_acls, topic_specs

SETTINGS = CommonSettings(topic_prefix="exchange.")
CATALOGUE = load_catalogue(SETTINGS.schemas_dir)


def _topics(kind: str) -> set[str]:
    return {SETTINGS.topic(name) for name, topic in CATALOGUE.topics.items() if topic.kind == kind}


def _writers(topic: str) -> set[str]:
    return {
        acl.principal
        for acl in kafka_acls(SETTINGS)
        if acl.operation is AclOperation.WRITE
        and acl.resource_type is ResourceType.TOPIC
        and acl.resource_name == topic
    }


def test_every_outcome_topic_of_the_catalogue_has_a_producing_service() -> None:
    outcomes = {name for name, topic in CATALOGUE.topics.items() if topic.kind == "outcome"}
    assert outcomes <= set(OUTCOME_PRODUCERS)
    assert set(OUTCOME_PRODUCERS.values()) <= set(CONSUMERS)


def test_only_ingest_writes_record_topics_and_each_outcome_topic_has_one_writer() -> None:
    for topic in _topics("record"):
        assert _writers(topic) == {"User:ingest"}, topic
    for topic in _topics("outcome"):
        assert len(_writers(topic)) == 1, topic


def test_the_county_reads_outcomes_only_and_the_auditor_reads_everything() -> None:
    acls = kafka_acls(SETTINGS)
    county = {a.resource_name for a in acls if a.principal == "User:county" and a.resource_type is ResourceType.TOPIC}
    assert county == _topics("outcome")
    assert not [a for a in acls if a.principal == "User:county" and a.operation is not AclOperation.READ]
    auditor = [a for a in acls if a.principal == "User:auditor" and a.resource_type is ResourceType.TOPIC]
    assert [(a.operation, a.resource_name, a.pattern) for a in auditor] == [
        (AclOperation.READ, "exchange.", PatternType.PREFIXED)
    ]
    # ... which covers every topic the exchange creates, because all carry the prefix.
    assert all(spec.name.startswith("exchange.") for spec in topic_specs(SETTINGS))


def test_topics_take_the_configured_replication_factor() -> None:
    three = SETTINGS.model_copy(update={"kafka_replication_factor": 3})
    assert {spec.replication for spec in topic_specs(three)} == {3}
    one = SETTINGS.model_copy(update={"kafka_replication_factor": 1})
    assert {spec.replication for spec in topic_specs(one)} == {1}
    assert {spec.replication for spec in topic_specs(one, replication=2)} == {2}
