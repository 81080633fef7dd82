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
import functools
import logging
import struct
from collections.abc import Sequence
from typing import Any

import asyncpg
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
        "headers": event.header_texts(),
    }


async def enqueue(conn: AsyncConnection, schema: str, rows: Sequence[dict[str, object]]) -> None:
    """Add events to the outbox inside the caller's transaction (flushes, never commits). One statement
    whatever the number of rows: the columns go as arrays, and unnest returns them in order, so ids
    follow the order of `rows`."""
    if not rows:
        return
    await conn.execute(
        sql(
            f"INSERT INTO {schema}.outbox (topic, key, value, headers) "
            "SELECT topic, key, value, CAST(headers AS jsonb) FROM unnest(CAST(:topics AS text[]), CAST(:keys AS "
            "bytea[]), CAST(:values AS bytea[]), CAST(:headers AS text[])) AS r(topic, key, value, headers)"
        ),
        {
            "topics": [r["topic"] for r in rows],
            "keys": [r["key"] for r in rows],
            "values": [r["value"] for r in rows],
            "headers": [orjson.dumps(r["headers"]).decode() for r in rows],
        },
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
        standby_poll_seconds: float = 2.0,
        listen: str | None = None,
    ) -> None:
        self._engine = engine
        self._producer = producer
        self._schema = schema
        self._batch_size = batch_size
        self._idle = idle_poll_seconds
        self._standby = standby_poll_seconds
        self._wake = asyncio.Event()
        # A channel the writers NOTIFY in their commit: `wake` only reaches the relay of the same process, and
        # the leader may be another worker process or replica (it would otherwise wait for its idle poll).
        self._listen = listen
        self._lock_key = f"outbox-relay:{schema}"
        self._take = (
            f"DELETE FROM {schema}.outbox WHERE id IN (SELECT id FROM {schema}.outbox "
            "ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING id, topic, key, value, headers::text"
        )
        self.sent_total = 0

    def wake(self) -> None:
        """Called after a commit that added rows, so they leave at once instead of at the next poll."""
        self._wake.set()

    async def backlog(self) -> int:
        async with self._engine.connect() as conn:
            return int((await conn.execute(sql(f"SELECT count(*) FROM {self._schema}.outbox"))).scalar_one())

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                if not await self._lead(stop):
                    await sleep_or_stop(stop, self._standby)  # another replica relays; stand by
                    continue
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

    async def _lead(self, stop: asyncio.Event) -> bool:
        """Take the schema's lock and relay until `stop` or an error; False if another session holds it.

        Everything runs on the lock's own connection, through its asyncpg driver connection: the lock, the
        LISTEN and every batch (no pool check-out and no pre-ping per batch). The lock is a session lock, so
        leadership ends with the session or an explicit unlock, never with the connection's return to the
        pool: after an error the connection is closed (its session ends, PostgreSQL releases the lock and
        rolls back a batch in flight), after a stop it is unlocked before it goes back to the pool.
        Otherwise an idle pooled connection would keep the lock, and no replica (nor this process, on
        another connection) could lead again.
        """
        async with self._engine.connect() as conn:
            driver: asyncpg.Connection = (await conn.get_raw_connection()).driver_connection
            if not await driver.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", self._lock_key):
                return False
            try:
                if self._listen is not None:
                    await driver.add_listener(self._listen, self._woken)
                await self._relay_while_leader(driver, stop)
                if self._listen is not None:
                    await driver.remove_listener(self._listen, self._woken)
                await driver.fetchval("SELECT pg_advisory_unlock(hashtext($1))", self._lock_key)
            except BaseException:
                driver.terminate()  # synchronous: also runs when the task is being cancelled
                await conn.invalidate()
                raise
        return True

    def _woken(self, *_: object) -> None:
        self._wake.set()

    async def _relay_while_leader(self, driver: asyncpg.Connection, stop: asyncio.Event) -> None:
        while not stop.is_set():
            # Cleared before the batch is taken: a commit that lands while it is sent wakes the next one.
            self._wake.clear()
            sent = await self._relay_batch(driver)
            if sent < self._batch_size and not self._wake.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._idle)

    async def _relay_batch(self, driver: asyncpg.Connection) -> int:
        """Send one batch and delete it; returns how many were sent."""
        async with driver.transaction():
            # One statement takes and deletes the batch; the delete commits only after the broker
            # acknowledged every message (an exception rolls it back, and the rows are sent again).
            rows = await driver.fetch(self._take, self._batch_size)
            if not rows:
                metrics.OUTBOX_BACKLOG.labels(self._schema).set(0)
                return 0
            rows.sort(key=_first)  # RETURNING has no order; Kafka gets id order
            await self._send(rows)
        self.sent_total += len(rows)
        metrics.OUTBOX_SENT.labels(self._schema).inc(len(rows))
        return len(rows)

    async def _send(self, rows: list[asyncpg.Record]) -> None:
        """Put `rows` on Kafka in order and wait until the broker acknowledged all of them.

        The rows go into one record batch per partition (aiokafka's batch API), in id order, without an
        await or a future per message; each key's partition is the one `send` would choose (aiokafka's
        default partitioner: murmur2 of the key, as the Java client), so a subject's events stay on one
        partition whichever producer wrote them."""
        producer = self._producer
        counts = {topic: len(await producer.partitions_for(topic)) for topic in {row[1] for row in rows}}
        batches: dict[tuple[str, int], list[Any]] = {}
        for _, topic, key, value, headers in rows:
            place = (topic, partition_of(key, counts[topic]))
            chain = batches.get(place)
            if chain is None:
                chain = batches[place] = [producer.create_batch()]
            message = {
                "key": key,
                "value": value,
                "timestamp": None,
                "headers": [(name, text.encode()) for name, text in orjson.loads(headers)],
            }
            if chain[-1].append(**message) is None:  # full: the next batch of this partition follows it
                chain.append(producer.create_batch())
                chain[-1].append(**message)
        acks: list[asyncio.Future[Any]] = []
        try:
            for (topic, partition), chain in batches.items():
                for batch in chain:
                    batch.close()  # complete: the sender need not linger for more
                    acks.append(await producer.send_batch(batch, topic, partition=partition))
        except BaseException:
            for ack in acks:  # nobody awaits them now; their failures must not be reported as lost
                ack.add_done_callback(lambda f: f.cancelled() or f.exception())
            raise
        outcomes = await asyncio.gather(*acks, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome


def partition_of(key: bytes, partitions: int) -> int:
    """The partition aiokafka's (and the Java client's) default partitioner gives `key`."""
    return (_murmur2(key) & 0x7FFFFFFF) % partitions


@functools.lru_cache(maxsize=65536)
def _murmur2(data: bytes) -> int:
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as aiokafka.partitioner.murmur2
    computes it (tests check they agree) in half its time: whole 32-bit words unpacked at once, each
    step masked once. Cached: a subject's events keep coming with the same key."""
    length = len(data)
    h = _SEED ^ length
    whole = length & ~3
    for (k,) in struct.iter_unpack("<I", data[:whole]):
        k = (k * _M) & _MASK
        k = ((k ^ (k >> 24)) * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    rest = length & 3
    if rest == 3:
        h ^= data[whole + 2] << 16
    if rest >= 2:
        h ^= data[whole + 1] << 8
    if rest:
        h = ((h ^ data[whole]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


_SEED, _M, _MASK = 0x9747B28C, 0x5BD1E995, 0xFFFFFFFF


def _first(row: asyncpg.Record) -> Any:
    return row[0]


__all__ = ["OutboxRelay", "enqueue", "outbox_row", "partition_of"]
