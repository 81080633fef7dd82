"""The idempotent consumer loop every consuming service runs.

poll → decode → handle in ONE database transaction together with the inbox rows → commit the
database → commit the Kafka offsets. A redelivered event (after a crash, a rebalance or a relay
re-send) finds its inbox row and changes nothing. An event that cannot be handled goes to
`<topic>.dlq` (the original message plus `x-dlq-*` headers, services/common/dlq.py) and the consumer
carries on; errors are never swallowed silently. Infrastructure failures (database or broker
unreachable) are not the event's fault: the batch is retried from its first offset after a back-off
instead of being dead-lettered.

The service also consumes its re-drive topic (`<prefix>redrive.<service>`): an operator sends a
dead-lettered event back there after a fix (`exchange dlq redrive`), its inbox row is `redriving`, and the
first copy of the event to arrive is applied and flips the row to `applied` in the same transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common import dlq, metrics, request_id
from services.common.db import sql
from services.common.envelope import CloudEvent, EnvelopeError
from services.common.http import sqlstate
from services.common.tasks import one_line, sleep_or_stop

log = logging.getLogger(__name__)

Handler = Callable[[AsyncConnection, CloudEvent], Awaitable[None]]
BatchHandler = Callable[[AsyncConnection, Sequence[CloudEvent]], Awaitable[None]]
"""Handles the new events of a poll (in order) at once; must have the effect of handling them one by one."""


class ConsumerStalled(RuntimeError):
    """The consumer has held no partition for too long (it fell out of its group, e.g. after a broker
    restart, and did not rejoin); the runtime replaces it with a fresh consumer."""


class TransientError(RuntimeError):
    """Raised by a handler when the failure is the environment's, not the event's (retry, never DLQ)."""


CONTENTION_SQLSTATES = frozenset({"40P01", "40001", "55P03"})
"""Deadlock, serialization failure, lock not available: two transactions collided (two replicas, the ticker);
retrying the poll succeeds, and the event is not at fault."""


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TransientError | OSError | TimeoutError | ConnectionError | KafkaError):
        return True
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and sqlstate(exc) in CONTENTION_SQLSTATES:
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


@dataclass(frozen=True, slots=True)
class Decoded:
    message: ConsumerRecord[bytes, bytes]
    event: CloudEvent | None
    problem: str | None
    origin: dlq.Origin
    """Where the event was first read (a re-driven copy names it in its headers)."""
    event_id: str


def decode(message: ConsumerRecord[bytes, bytes]) -> Decoded:
    """Headers and payload read once per message: the inbox, the handlers, the log line and a dead letter
    all use what this returns."""
    m = message
    headers = m.headers if isinstance(m.headers, list | tuple) else list(m.headers)
    origin = dlq.origin_of(m.topic, m.partition, m.offset, m.timestamp, headers)
    try:
        event = CloudEvent.from_kafka(headers, m.value or b"")
    except (EnvelopeError, UnicodeDecodeError) as exc:
        return Decoded(m, None, f"envelope: {exc}", origin, f"undecodable:{origin}")
    return Decoded(m, event, None, origin, event.id)


class ConsumerLoop:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        consumer: AIOKafkaConsumer,
        dlq_producer: AIOKafkaProducer,
        schema: str,
        group_id: str,
        handle: Handler,
        after_commit: Callable[[], None] | None = None,
        service: str | None = None,
        handle_batch: BatchHandler | None = None,
    ) -> None:
        self._engine = engine
        self._consumer = consumer
        self._dlq = dlq_producer
        self._schema = schema
        self._group = group_id
        self._service = service or schema  # names the inbox `exchange dlq redrive --service` acts on
        self._handle = handle
        self._handle_batch = handle_batch
        self._after_commit = after_commit
        self.applied_total = 0
        # Per partition, the offset of the next event to apply: the fetch position runs ahead of it while a
        # batch is retried (each poll fetches the batch again), so lag is counted from here.
        self._next_to_apply: dict[TopicPartition, int] = {}

    async def run(self, stop: asyncio.Event, *, stall_seconds: float = 60.0) -> None:
        backoff = 0.5
        last_assigned = time.monotonic()
        next_lag_report = 0.0
        while not stop.is_set():
            batches = await self._consumer.getmany(timeout_ms=200, max_records=500)
            if time.monotonic() >= next_lag_report:
                # Also while idle or stuck behind a retried batch: the lag of a consumer that makes no
                # progress is exactly the number an operator needs to see rise.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._report_lag(list(self._consumer.assignment()), group_total=True), 2.0)
                next_lag_report = time.monotonic() + 5.0
            if self._consumer.assignment():
                last_assigned = time.monotonic()
            elif time.monotonic() - last_assigned > stall_seconds:
                # More instances than partitions would also get here; with 6 partitions per topic that is
                # far beyond the replicas we run, so treat it as a consumer that lost its group.
                raise ConsumerStalled(f"{self._group}: no partition assigned for {stall_seconds:.0f}s")
            if not batches:
                continue
            try:
                # The whole poll in one transaction (one commit, one WAL flush), whatever the number of
                # partitions it came from: the order of events of different partitions is arbitrary anyway.
                await self._process([m for messages in batches.values() for m in messages])
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not await self._environment_at_fault(exc):
                    raise
                log.warning(
                    "consumer batch will be retried",
                    extra={"group": self._group, "error": one_line(exc), "retry_s": backoff},
                )
                for tp, messages in batches.items():
                    self._next_to_apply[tp] = messages[0].offset
                    # The partition may have been revoked meanwhile; its new owner starts from the commit.
                    with contextlib.suppress(IllegalStateError, AssertionError):
                        self._consumer.seek(tp, messages[0].offset)
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            if self._after_commit:
                self._after_commit()  # outbox rows written by the handlers can leave now
            try:
                await self._consumer.commit()
            except KafkaError as exc:
                # A rebalance took the partitions: their new owner re-reads from the last commit and the
                # inbox drops what we already applied. Nothing is lost, nothing doubled.
                log.info("offset commit skipped", extra={"group": self._group, "error": one_line(exc)})
                continue
            for tp, messages in batches.items():
                self._next_to_apply[tp] = messages[-1].offset + 1
            await self._report_lag(list(batches))

    async def _process(self, messages: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        decoded = [decode(m) for m in messages]
        try:
            async with self._engine.begin() as conn:
                await self._apply(conn, [d for d in decoded if d.problem is None])
        except Exception as exc:
            if await self._environment_at_fault(exc):
                raise
            # Find the culprit: one transaction per event, dead-lettering only what fails on its own.
            for item in decoded:
                if item.problem is None:
                    await self._apply_alone(item)
        for item in decoded:
            if item.problem is not None:
                await self._dead_letter(item, "EnvelopeError", dlq.mask_personal(item.problem))

    async def _apply(self, conn: AsyncConnection, items: Sequence[Decoded]) -> None:
        if not items:
            return
        new_ids = await self._claim(conn, items)
        fresh: list[Decoded] = []
        for item in items:
            if item.event_id not in new_ids:
                metrics.DUPLICATES.labels(self._group, item.message.topic).inc()
                continue
            new_ids.discard(item.event_id)  # a second copy in the same batch is a duplicate too
            fresh.append(item)
        # Outcomes the handlers emit carry the request id of the record (by subject) that caused them.
        causes = request_id.bind_causes(
            {i.event.subject: i.event.requestid for i in fresh if i.event is not None and i.event.requestid}
        )
        try:
            if self._handle_batch is not None and fresh:
                await self._handle_batch(conn, [item.event for item in fresh if item.event is not None])
            elif self._handle_batch is None:
                for item in fresh:
                    assert item.event is not None
                    token = request_id.bind_causes({item.event.subject: item.event.requestid or ""})
                    try:
                        await self._handle(conn, item.event)
                    finally:
                        request_id.reset_causes(token)
        finally:
            request_id.reset_causes(causes)
        if not fresh:
            return
        by_topic: dict[str, int] = {}
        for item in fresh:
            by_topic[item.message.topic] = by_topic.get(item.message.topic, 0) + 1
            if item.origin.attempt:
                await self._settle_redrive(conn, item)
                log.info(
                    "re-driven event applied",
                    extra={"group": self._group, "event_id": item.event_id, "origin": str(item.origin)},
                )
        for topic, n in by_topic.items():
            metrics.CONSUMED.labels(self._group, topic).inc(n)
        self.applied_total += len(fresh)
        # One line per poll naming every applied event and the request id of the POST that caused it: an
        # operator follows a record from ingest's request log to every consumer (ids only, no personal
        # data). A line per event took 5–12 % of a consumer's CPU under S2.
        log.info(
            "events applied",
            extra={
                "group": self._group,
                "events": len(fresh),
                "event_ids": [item.event_id for item in fresh],
                "request_ids": [item.event.requestid if item.event is not None else None for item in fresh],
            },
        )

    async def _apply_alone(self, item: Decoded) -> None:
        try:
            async with self._engine.begin() as conn:
                await self._apply(conn, [item])
        except Exception as exc:
            if await self._environment_at_fault(exc):
                raise
            error, reason = dlq.describe_failure(exc)
            await self._dead_letter(item, error, reason)

    async def _environment_at_fault(self, exc: BaseException) -> bool:
        """Is this failure the environment's (retry later) rather than the event's (dead-letter it)?

        Some database outages surface as plain DBAPIErrors ("not yet accepting connections"), so when the
        error class does not say, ask the database itself: if it does not answer, the event is innocent.
        """
        if _is_transient(exc):
            return True
        if not isinstance(exc, DBAPIError):
            return False
        try:
            async with asyncio.timeout(3), self._engine.connect() as conn:
                await conn.execute(sql("SELECT 1"))
        except Exception:
            return True
        return False

    async def _claim(self, conn: AsyncConnection, items: Sequence[Decoded]) -> set[str]:
        """Insert the inbox rows of `items`; return the ids that are new (or were waiting for a re-drive).

        A row an operator re-drove (`redriving`) is taken back here, so whichever copy of the event comes
        first (re-driven or the original, redelivered) is applied, once: the row lock of the upsert makes a
        concurrent second claim wait and then find `applied`."""
        unique: dict[str, dlq.Origin] = {}
        # In event-id order: two consumers claiming overlapping polls (during a rebalance) take the rows'
        # locks in the same order, never in a cycle. ON CONFLICT DO UPDATE may touch a row only once.
        for item in sorted(items, key=lambda i: i.event_id):
            unique.setdefault(item.event_id, item.origin)
        result = await conn.execute(
            sql(
                f'INSERT INTO {self._schema}.inbox (event_id, topic, partition, "offset") '
                "SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:topics AS text[]), "
                "CAST(:parts AS int[]), CAST(:offs AS bigint[])) "
                f"ON CONFLICT (event_id) DO UPDATE SET status = '{dlq.APPLIED}', processed_at = now() "
                f"WHERE {self._schema}.inbox.status = '{dlq.REDRIVING}' RETURNING event_id"
            ),
            {
                "ids": list(unique),
                "topics": [o.topic for o in unique.values()],
                "parts": [o.partition for o in unique.values()],
                "offs": [o.offset for o in unique.values()],
            },
        )
        return {row[0] for row in result}

    async def _settle_redrive(self, conn: AsyncConnection, item: Decoded) -> None:
        """An event re-driven for an inbox row under another id (one that could not be decoded before the
        fix) settles that row too, so the operator does not see it waiting forever."""
        m = item.message
        redriven_for = dlq.header(list(m.headers), dlq.REDRIVE_EVENT_ID)
        if redriven_for and redriven_for != item.event_id:
            await conn.execute(
                sql(
                    f"UPDATE {self._schema}.inbox SET status = '{dlq.APPLIED}', processed_at = now() "
                    f"WHERE event_id = :id AND status = '{dlq.REDRIVING}'"
                ),
                {"id": redriven_for},
            )

    async def _dead_letter(self, item: Decoded, error: str, reason: str) -> None:
        """Park the original message on `<source topic>.dlq` with its error and origin, and remember the
        event in the inbox as dead-lettered (a re-driven event that fails again goes back to the same
        dead-letter topic with its original origin and the attempt counted)."""
        m = item.message
        origin = item.origin
        headers = dlq.dead_letter_headers(
            list(m.headers),
            origin=origin,
            group=self._group,
            service=self._service,
            event_id=item.event_id,
            error=error,
            reason=reason,
            at=datetime.now(UTC),
        )
        await self._dlq.send_and_wait(origin.topic + dlq.DLQ_SUFFIX, value=m.value, key=m.key, headers=headers)
        async with self._engine.begin() as conn:
            # A first failure inserts the row; a re-drive that failed again puts it back to dead-lettered
            # with the new error. An applied row is never touched.
            await conn.execute(
                sql(
                    f'INSERT INTO {self._schema}.inbox (event_id, topic, partition, "offset", status, error) '
                    f"VALUES (:id, :t, :p, :o, '{dlq.DEAD_LETTERED}', :e) ON CONFLICT (event_id) DO UPDATE "
                    f"SET status = '{dlq.DEAD_LETTERED}', error = EXCLUDED.error, processed_at = now() "
                    f"WHERE {self._schema}.inbox.status IN ('{dlq.REDRIVING}', '{dlq.DEAD_LETTERED}')"
                ),
                {"id": item.event_id, "t": origin.topic, "p": origin.partition, "o": origin.offset, "e": reason},
            )
        metrics.DEAD_LETTERS.labels(self._group, origin.topic).inc()
        log.error(
            "event dead-lettered; after fixing the cause run `exchange dlq redrive`",
            extra={
                "group": self._group,
                "event_id": item.event_id,
                "origin": str(origin),
                "attempt": origin.attempt + 1,
                "error": error,
                "reason": reason,
            },
        )

    async def _report_lag(self, partitions: list[TopicPartition], *, group_total: bool = False) -> None:
        """Lag per partition still assigned to us (a rebalance may just have taken some away); with
        `group_total`, also this replica's sum for the group (`sum by (group)` over replicas in Prometheus)."""
        assigned = self._consumer.assignment()
        for gone in [tp for tp in self._next_to_apply if tp not in assigned]:
            del self._next_to_apply[gone]  # revoked: its next owner's commits move it on
        total = 0
        for tp in partitions:
            if tp not in assigned:
                continue
            with contextlib.suppress(IllegalStateError, AssertionError):
                high = self._consumer.highwater(tp)
                if high is not None:
                    position = self._next_to_apply.get(tp)
                    if position is None:
                        position = await self._consumer.position(tp)
                    lag = max(high - position, 0)
                    total += lag
                    metrics.CONSUMER_LAG.labels(self._group, tp.topic, str(tp.partition)).set(lag)
        if group_total:
            metrics.CONSUMER_GROUP_LAG.labels(self._group).set(total)


__all__ = ["BatchHandler", "ConsumerLoop", "ConsumerStalled", "Decoded", "Handler", "TransientError", "decode"]
