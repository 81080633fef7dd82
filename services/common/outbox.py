"""Transactional outbox: an event is written in the same transaction as the state it announces, and a
relay puts it on Kafka afterwards. PostgreSQL is the commit point; Kafka may be down for a while.

Relay rules (STYLE.md): one active relay per schema (advisory lock), batches taken with
`FOR UPDATE SKIP LOCKED` in id order by one `DELETE … RETURNING`, committed only after the broker
acknowledged every message of the batch. A crash between acknowledgement and commit re-sends the batch;
consumers drop the duplicates through their inbox (the CloudEvents id is the same).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common import metrics
from services.common.db import sql
from services.common.envelope import CloudEvent
from services.common.tasks import one_line, sleep_or_stop

log = logging.getLogger(__name__)


def outbox_row(topic: str, event: CloudEvent) -> dict[str, object]:
    return {
        "topic": topic,
        "key": event.kafka_key(),
        "value": event.kafka_value(),
        "headers": [[name, value.decode()] for name, value in event.kafka_headers()],
    }


async def enqueue(conn: AsyncConnection, schema: str, rows: Sequence[dict[str, object]]) -> None:
    """Add events to the outbox inside the caller's transaction (flushes, never commits)."""
    if not rows:
        return
    await conn.execute(
        sql(
            f"INSERT INTO {schema}.outbox (topic, key, value, headers) "
            "VALUES (:topic, :key, :value, CAST(:headers AS jsonb))"
        ),
        [{**r, "headers": orjson.dumps(r["headers"]).decode()} for r in rows],
    )


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        *,
        schema: str,
        batch_size: int = 1000,
        idle_poll_seconds: float = 0.2,
        listen: str | None = None,
    ) -> None:
        self._engine = engine
        self._producer = producer
        self._schema = schema
        self._batch_size = batch_size
        self._idle = idle_poll_seconds
        self._wake = asyncio.Event()
        # A channel the writers NOTIFY in their commit: `wake` only reaches the relay of the same process, and
        # the leader may be another worker process or replica (it would otherwise wait for its idle poll).
        self._listen = listen
        self.sent_total = 0

    def wake(self) -> None:
        """Called after a commit that added rows, so they leave at once instead of at the next poll."""
        self._wake.set()

    async def backlog(self) -> int:
        async with self._engine.connect() as conn:
            return int((await conn.execute(sql(f"SELECT count(*) FROM {self._schema}.outbox"))).scalar_one())

    async def run(self, stop: asyncio.Event) -> None:
        lock_key = f"outbox-relay:{self._schema}"
        backoff = 0.5
        while not stop.is_set():
            try:
                async with self._engine.connect() as lock_conn:
                    got: bool = (
                        await lock_conn.execute(sql("SELECT pg_try_advisory_lock(hashtext(:k))"), {"k": lock_key})
                    ).scalar_one()
                    await lock_conn.commit()
                    if not got:
                        await sleep_or_stop(stop, 2.0)  # another replica relays; stand by
                        continue
                    if self._listen is None:
                        await self._relay_while_leader(stop)
                    else:
                        await self._relay_listening(lock_conn, self._listen, stop)
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                metrics.OUTBOX_ERRORS.labels(self._schema).inc()
                log.warning(
                    "outbox relay paused",
                    extra={"schema": self._schema, "error": one_line(exc), "retry_s": backoff},
                )
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 10.0)

    async def _relay_listening(self, lock_conn: AsyncConnection, channel: str, stop: asyncio.Event) -> None:
        """Lead while listening on `channel` on the lock's connection (idle while the lock is held)."""
        driver: Any = (await lock_conn.get_raw_connection()).driver_connection

        def woken(*_: object) -> None:
            self._wake.set()

        await driver.add_listener(channel, woken)
        try:
            await self._relay_while_leader(stop)
        finally:
            with contextlib.suppress(Exception):
                await driver.remove_listener(channel, woken)

    async def _relay_while_leader(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            sent = await self.relay_once()
            if sent < self._batch_size:
                self._wake.clear()
                if sent == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=self._idle)

    async def relay_once(self) -> int:
        """Send one batch and delete it; returns how many were sent."""
        async with self._engine.begin() as conn:
            # One statement takes and deletes the batch; the delete commits only after the broker
            # acknowledged every message (an exception rolls it back, and the rows are sent again).
            taken = (
                await conn.execute(
                    sql(
                        f"DELETE FROM {self._schema}.outbox WHERE id IN (SELECT id FROM {self._schema}.outbox "
                        "ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED) RETURNING id, topic, key, value, headers"
                    ),
                    {"n": self._batch_size},
                )
            ).all()
            if not taken:
                metrics.OUTBOX_BACKLOG.labels(self._schema).set(0)
                return 0
            rows = sorted(taken, key=lambda row: row.id)  # RETURNING has no order; Kafka gets id order
            futures = [
                await self._producer.send(
                    row.topic,
                    value=row.value,
                    key=row.key,
                    headers=[(name, value.encode()) for name, value in row.headers],
                )
                for row in rows
            ]
            await asyncio.gather(*futures)
        self.sent_total += len(rows)
        metrics.OUTBOX_SENT.labels(self._schema).inc(len(rows))
        return len(rows)


__all__ = ["OutboxRelay", "enqueue", "outbox_row"]
