"""The outbox relay's leadership (one relay per schema, by advisory lock) passes on whenever the leader stops
leading: when its broker sends fail, and when it is stopped while its process (and connection pool) lives
on. Two relays on one scratch schema, each with its own engine and producer, as two replicas have; real
PostgreSQL and Kafka.

The schema is made by the grading migrations (it has the service's outbox table); nothing else reads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import create_engine
from services.common.envelope import CloudEvent
from services.common.kafka import TopicSpec, ensure_topics, make_producer
from services.common.outbox import OutboxRelay, enqueue, outbox_row
from services.grading.replay import migrate_schema
from tests.helpers import eventually, partitions_of


@dataclass
class Replica:
    """One relay as a replica runs it: its own pool, its own producer, its own stop."""

    engine: AsyncEngine
    producer: AIOKafkaProducer
    relay: OutboxRelay
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.relay.run(self.stop))

    async def close(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, timeout=30)
        with contextlib.suppress(Exception):
            await self.producer.stop()
        await self.engine.dispose()


@pytest.fixture
async def schema(stack_env: dict[str, str]) -> AsyncIterator[str]:
    name = f"relay_{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(migrate_schema, name, stack_env["DATABASE_URL"])
    yield name
    engine = create_engine(stack_env["DATABASE_URL"], pool_size=1)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    await engine.dispose()


@pytest.fixture
async def topic(stack_env: dict[str, str]) -> str:
    name = f"{stack_env['EXCHANGE_TOPIC_PREFIX']}relay-test-{uuid.uuid4().hex[:8]}"
    await ensure_topics(stack_env["KAFKA_BOOTSTRAP"], [TopicSpec(name, partitions=3)])
    return name


@pytest.fixture
async def replicas(stack_env: dict[str, str], schema: str) -> AsyncIterator[tuple[Replica, Replica]]:
    made: list[Replica] = []
    for name in ("a", "b"):
        engine = create_engine(stack_env["DATABASE_URL"], pool_size=3)
        producer = make_producer(stack_env["KAFKA_BOOTSTRAP"], client_id=f"relay-test-{name}")
        await producer.start()
        made.append(Replica(engine, producer, OutboxRelay(engine, producer, schema=schema, batch_size=7)))
    yield made[0], made[1]
    for replica in made:
        await replica.close()


async def _enqueue(engine: AsyncEngine, schema: str, topic: str, n: int) -> set[str]:
    events = [
        CloudEvent(
            id=f"relay-test/{uuid.uuid4().hex}",
            source="/tests/relay",
            type="cn.credit.test.v1",
            subject=f"S{i % 5}",
            time=datetime.now(UTC),
            data={"i": i},
        )
        for i in range(n)
    ]
    async with engine.begin() as conn:
        await enqueue(conn, schema, [outbox_row(topic, e) for e in events])
    return {e.id for e in events}


async def _outbox_empty(engine: AsyncEngine, schema: str) -> bool:
    async with engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {schema}.outbox"))).scalar_one()) == 0


async def _ids_on(bootstrap: str, topic: str) -> list[str]:
    """Every CloudEvents id on `topic`, in each partition's order."""
    partitions = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[str] = []
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            for tp, messages in (await consumer.getmany(*remaining, timeout_ms=500)).items():
                found += [CloudEvent.from_kafka(list(m.headers), m.value or b"").id for m in messages]
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return found
    finally:
        await consumer.stop()


async def _leads(replica: Replica, engine: AsyncEngine, schema: str, topic: str) -> set[str]:
    """Events enqueued and relayed by `replica` (it is the leader once this returns)."""
    before = replica.relay.sent_total
    ids = await _enqueue(engine, schema, topic, 10)
    await eventually(lambda: _outbox_empty(engine, schema), what="the outbox to drain")
    assert replica.relay.sent_total - before == 10
    return ids


async def test_a_relay_whose_broker_sends_fail_hands_leadership_to_another_replica(
    replicas: tuple[Replica, Replica], schema: str, topic: str, stack_env: dict[str, str]
) -> None:
    a, b = replicas
    a.start()
    first = await _leads(a, a.engine, schema, topic)
    b.start()  # stands by: a holds the lock
    await a.producer.stop()  # a's sends fail from now on; its relay keeps retrying
    later = await _leads(b, a.engine, schema, topic)
    ids = await _ids_on(stack_env["KAFKA_BOOTSTRAP"], topic)
    assert set(ids) == first | later


async def test_a_stopped_relay_releases_leadership_while_its_pool_lives_on(
    replicas: tuple[Replica, Replica], schema: str, topic: str, stack_env: dict[str, str]
) -> None:
    a, b = replicas
    a.start()
    first = await _leads(a, a.engine, schema, topic)
    b.start()
    a.stop.set()
    assert a.task is not None
    await asyncio.wait_for(a.task, timeout=30)  # a's engine keeps its pooled connections open
    later = await _leads(b, a.engine, schema, topic)
    # a's pool holds no session with the lock any more: only b's session does
    async with a.engine.connect() as conn:
        holders = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND ((classid::bigint << 32) | objid::bigint) = hashtext(:k)::bigint"
                ),
                {"k": f"outbox-relay:{schema}"},
            )
        ).scalar_one()
    assert holders == 1
    ids = await _ids_on(stack_env["KAFKA_BOOTSTRAP"], topic)
    assert set(ids) == first | later
