"""The commit point of ingest: validated records become durable, chained, signed and queued for Kafka.

One writer task per process takes whatever requests are waiting and commits them in ONE transaction
(group commit): the per-department chain heads are locked, duplicates resolved (same content → the
original receipt; different content → conflict), receipts built and signed, records and outbox rows
inserted. Only after PostgreSQL commits does any caller get its 202. If the transaction fails, every
caller in it gets `NotDurable` (→ 503 + Retry-After) and nothing of the batch is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.calendar import WorkingDayCalendar, is_reported_late
from services.common.catalogue import RecordType, TypeVersion
from services.common.clock import Clock
from services.common.envelope import CloudEvent
from services.common.outbox import enqueue, outbox_row
from services.ingest import store
from services.ingest.receipts import ReceiptSigner, content_hash, iso, record_hash
from services.ingest.validation import Problem

log = logging.getLogger(__name__)


class NotDurable(RuntimeError):
    """The record could not be committed; the client should retry with the same id."""


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int  # 202 accepted now, 200 accepted before with the same content, 409 same id, other content
    receipt: dict[str, Any] | None


@dataclass(slots=True)
class Pending:
    department: str
    record: dict[str, Any]
    record_type: RecordType
    type_version: TypeVersion
    warnings: tuple[Problem, ...]
    future: asyncio.Future[Outcome] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class ReceiptWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        signer: ReceiptSigner,
        calendar: WorkingDayCalendar,
        clock: Clock,
        topic_name: Callable[[str], str],
        on_commit: Callable[[], None],
        reporting_days: int = 7,
        max_batch: int = 2000,
    ) -> None:
        self._engine = engine
        self._signer = signer
        self._calendar = calendar
        self._clock = clock
        self._topic_name = topic_name
        self._on_commit = on_commit
        self._reporting_days = reporting_days
        self._max_batch = max_batch
        self._queue: asyncio.Queue[Pending] = asyncio.Queue()

    async def submit(self, items: list[Pending]) -> list[Outcome]:
        """Queue items for the next group commit and wait for it; raises NotDurable if it failed."""
        for item in items:
            self._queue.put_nowait(item)
        return list(await asyncio.gather(*(item.future for item in items)))

    async def run(self, stop: asyncio.Event) -> None:
        while not (stop.is_set() and self._queue.empty()):
            try:
                first = await asyncio.wait_for(self._queue.get(), timeout=0.5)
            except TimeoutError:
                continue
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                outcomes = await self._commit(batch)
            except Exception as exc:
                log.warning(
                    "group commit failed; callers get 503",
                    extra={"records": len(batch), "error": f"{type(exc).__name__}"},
                )
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(NotDurable(type(exc).__name__))
                continue
            for item, outcome in zip(batch, outcomes, strict=True):
                if not item.future.done():
                    item.future.set_result(outcome)
            self._on_commit()

    async def _commit(self, batch: list[Pending]) -> list[Outcome]:
        received_at = self._clock.now()
        outcomes: list[Outcome] = []
        async with self._engine.begin() as conn:
            heads = await store.lock_chains(conn, (item.department for item in batch))
            existing = await store.find_records(conn, ((i.department, i.record["id"]) for i in batch))
            accepted_now: dict[tuple[str, str], tuple[bytes, dict[str, Any]]] = {}
            new_rows: list[store.NewRecord] = []
            events: list[dict[str, object]] = []
            for item in batch:
                key = (item.department, item.record["id"])
                digest = content_hash(item.record)
                earlier = existing.get(key)
                if earlier is not None:
                    outcomes.append(_repeat(digest, earlier.content_hash, earlier.receipt))
                    continue
                if key in accepted_now:
                    first_digest, first_receipt = accepted_now[key]
                    outcomes.append(_repeat(digest, first_digest, first_receipt))
                    continue
                head = heads[item.department]
                receipt = self._receipt(item, head, received_at)
                accepted_now[key] = (digest, receipt)
                decision = date.fromisoformat(item.record["decision_date"])
                new_rows.append(
                    store.NewRecord(
                        item.department,
                        item.record["id"],
                        head.seq,
                        item.record_type.name,
                        item.type_version.version,
                        item.record["subject"]["code"],
                        decision,
                        digest,
                        receipt,
                        received_at,
                    )
                )
                events.append(outbox_row(self._topic_name(item.record_type.topic), self._event(item, receipt)))
                outcomes.append(Outcome(202, receipt))
            if new_rows:
                await store.insert_records(conn, new_rows)
                await enqueue(conn, store.SCHEMA, events)
                await store.advance_chains(conn, heads.values())
        return outcomes

    def _receipt(self, item: Pending, head: store.ChainHead, received_at: Any) -> dict[str, Any]:
        decision = date.fromisoformat(item.record["decision_date"])
        due: str | None = None
        provisional = False
        if item.record_type.disclosure:
            deadline = self._calendar.disclosure_deadline(decision)
            due, provisional = deadline.date.isoformat(), deadline.provisional
        head.seq += 1
        digest = record_hash(item.department, item.record)
        receipt: dict[str, Any] = {
            "record_id": item.record["id"],
            "department": item.department,
            "record_type": item.record_type.name,
            "seq": head.seq,
            "received_at": iso(received_at),
            "disclosure_due": due,
            "provisional": provisional,
            "reported_late": is_reported_late(decision, received_at, self._reporting_days),
            "hash": digest,
            "prev_hash": head.head_hash,
            "warnings": [w.as_dict() for w in item.warnings],
        }
        receipt["signature"] = self._signer.sign(receipt)
        head.head_hash = digest
        return receipt

    def _event(self, item: Pending, receipt: dict[str, Any]) -> CloudEvent:
        rt, version = item.record_type.name, item.type_version.version
        return CloudEvent(
            id=f"{item.department}/{item.record['id']}",
            source=f"/departments/{item.department}",
            type=f"cn.credit.record.{rt}.v{version}",
            subject=item.record["subject"]["code"],
            time=self._clock.now(),
            data={"record": item.record, "receipt": receipt},
            dataschema=f"/v1/catalogue/{rt}/{version}",
        )


def _repeat(digest: bytes, earlier_digest: bytes, earlier_receipt: dict[str, Any]) -> Outcome:
    if digest == earlier_digest:
        return Outcome(200, earlier_receipt)
    return Outcome(409, None)
