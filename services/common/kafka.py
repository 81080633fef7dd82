"""Kafka clients with the exchange's settings, and topic administration.

Producer settings are chosen for "nothing lost, nothing reordered": idempotent producer, acks=all,
lz4 compression and a short linger so the outbox relay sends full batches.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

FOREVER = "-1"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 6
    replication: int = 1
    config: dict[str, str] = field(default_factory=dict)


def record_topic(name: str, *, partitions: int = 6, replication: int = 1) -> TopicSpec:
    """Record topics are the system of record: kept forever, never compacted (DOMAIN §10)."""
    return TopicSpec(
        name,
        partitions,
        replication,
        {"retention.ms": FOREVER, "retention.bytes": FOREVER, "cleanup.policy": "delete"},
    )


def outcome_topic(name: str, *, partitions: int = 6, replication: int = 1) -> TopicSpec:
    """Outcome topics can be rebuilt by replay; kept a year so subscribers can catch up after outages."""
    return TopicSpec(name, partitions, replication, {"retention.ms": str(365 * 24 * 3600 * 1000)})


def make_producer(bootstrap: str, *, client_id: str, linger_ms: int = 5) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=linger_ms,
        max_batch_size=256 * 1024,
        compression_type="lz4",
        request_timeout_ms=10_000,
    )


def make_consumer(bootstrap: str, *, group_id: str, topics: Iterable[str], client_id: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=500,
        fetch_max_wait_ms=50,
    )


async def ensure_topics(bootstrap: str, specs: Iterable[TopicSpec]) -> list[str]:
    """Create missing topics with their configuration; return the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="exchange-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [s for s in specs if s.name not in existing]
        if not wanted:
            return []
        # Another process may create one between our list and create; that is fine.
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(
                [NewTopic(s.name, s.partitions, s.replication, topic_configs=s.config) for s in wanted]
            )
        return [s.name for s in wanted]
    finally:
        await admin.close()


async def broker_reachable(bootstrap: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        await admin.close()
