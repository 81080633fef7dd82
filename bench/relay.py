"""The outbox relay alone (issue 19): CPU per event it relays and events/s, on a private stack.

    .venv/bin/python -m bench.relay            # RELAY_EVENTS=10000 events per round, RELAY_ROUNDS=3

Each round fills a scratch outbox (the grading migrations in a schema of its own) with record events of
realistic size (the `tests.factories.penalty()` templates, ~1.5 KB), through `enqueue` in chunks of 50 as
the consumers emit, then runs `OutboxRelay.run` (service settings: batches of 1,000, the service's
producer) until every event is acknowledged. CPU = this process's `time.process_time` (the relay and its
producer's sender, lz4 included), per event; the enqueue's CPU per row is measured apart.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from bench.stack import BenchStack
from services.common.db import create_engine
from services.common.envelope import CloudEvent
from services.common.kafka import TopicSpec, ensure_topics, make_producer
from services.common.outbox import OutboxRelay, enqueue, outbox_row
from services.grading.replay import migrate_schema
from tests import factories

EVENTS = int(os.environ.get("RELAY_EVENTS", "10000"))
ROUNDS = int(os.environ.get("RELAY_ROUNDS", "3"))
CHUNK = 50


async def _fill(engine: AsyncEngine, schema: str, topic: str) -> float:
    """Enqueue EVENTS record events; CPU µs per row of the enqueue calls."""
    rows = []
    for seq in range(EVENTS):
        record = factories.penalty()
        event = CloudEvent(
            id=f"AMR/{uuid.uuid4().hex}",
            source="/departments/AMR",
            type="cn.credit.record.penalty.v1",
            subject=record["subject"]["code"],
            time=datetime.now(UTC),
            data={"record": record, "receipt": {"department": "AMR", "seq": seq}},
        )
        rows.append(outbox_row(topic, event))
    started = time.process_time()
    for first in range(0, EVENTS, CHUNK):
        async with engine.begin() as conn:
            await enqueue(conn, schema, rows[first : first + CHUNK])
    return (time.process_time() - started) / EVENTS * 1e6


async def _drain(relay: OutboxRelay) -> tuple[float, float]:
    """Run the relay until EVENTS more are acknowledged; (CPU µs per event, events/s)."""
    stop = asyncio.Event()
    goal = relay.sent_total + EVENTS
    cpu, wall = time.process_time(), time.monotonic()
    task = asyncio.create_task(relay.run(stop))
    while relay.sent_total < goal:  # noqa: ASYNC110 - the relay keeps a count, not an event
        await asyncio.sleep(0.005)
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    stop.set()
    await task
    return cpu / EVENTS * 1e6, EVENTS / wall


async def _measure(stack: BenchStack) -> None:
    schema = f"relay_bench_{uuid.uuid4().hex[:6]}"
    await asyncio.to_thread(migrate_schema, schema, stack.database_url)
    topic = f"{stack.config.topic_prefix}relay-bench"
    await ensure_topics(stack.bootstrap, [TopicSpec(topic, partitions=6)])
    engine = create_engine(stack.database_url, pool_size=2)
    producer = make_producer(stack.bootstrap, client_id="relay-bench")
    await producer.start()
    try:
        relay = OutboxRelay(engine, producer, schema=schema)
        await _fill(engine, schema, topic)
        await _drain(relay)  # warm-up: connections, metadata, prepared statements
        for n in range(ROUNDS):
            enqueue_us = await _fill(engine, schema, topic)
            relay_us, rate = await _drain(relay)
            print(
                f"round {n + 1}: relay {relay_us:.1f} CPU µs/event, {rate:,.0f} events/s; "
                f"enqueue {enqueue_us:.1f} CPU µs/row (chunks of {CHUNK})",
                flush=True,
            )
    finally:
        await producer.stop()
        await engine.dispose()


def main() -> None:
    stack = BenchStack()
    try:
        stack.start_infra()
        asyncio.run(_measure(stack))
    finally:
        stack.close()


if __name__ == "__main__":
    main()
