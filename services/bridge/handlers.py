"""The bridge's consumer: each outcome event (every outcome topic but the access log) becomes a feed row,
one pending delivery per webhook subscription that wants it and may read it, and — for 双公示 records and
list changes — one province record. All in the consumer's transaction with its inbox row, then NOTIFY."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from services.bridge import store
from services.bridge.rules.audience import FAMILIES, departments_named, family, wants
from services.bridge.rules.national import REPAIR_ANSWERED, ProvinceRecord, repair_answer, to_province
from services.bridge.wakeup import CHANNEL
from services.common.calendar import WorkingDayCalendar
from services.common.clock import Clock, shanghai_date
from services.common.consumer import BatchHandler, Handler
from services.common.db import sql
from services.common.envelope import CloudEvent


@dataclass(frozen=True)
class BridgeContext:
    clock: Clock
    calendar: WorkingDayCalendar
    uscc: dict[str, str]
    withdrawal_working_days: int


def batch_handler(ctx: BridgeContext) -> BatchHandler:
    async def handle(conn: AsyncConnection, events: Sequence[CloudEvent]) -> None:
        chosen = [e for e in events if family(e.type) in FAMILIES]
        if not chosen:
            return
        now = ctx.clock.now()
        feed: list[dict[str, Any]] = []
        named: dict[str, list[str]] = {}
        for e in chosen:
            named[e.id] = departments_named(e.data)
            feed.append(
                {
                    "id": e.id,
                    "type": e.type,
                    "family": family(e.type),
                    "subject": e.subject,
                    "departments": named[e.id],
                    "time": e.time,
                    "source": e.source,
                    "data": orjson.dumps(e.data).decode(),
                }
            )
        await store.append_feed(conn, feed)
        subscriptions = await store.fanout_subscriptions(conn)
        deliveries = [
            {"sub": s.id, "event": e.id, "subject": e.subject, "now": now}
            for e in chosen
            for s in subscriptions
            if wants(s.role, s.department, s.types, e.type, named[e.id])
        ]
        await store.insert_deliveries(conn, deliveries)
        province: list[dict[str, Any]] = []
        answered = [str(e.data.get("repair_id")) for e in chosen if e.type == REPAIR_ANSWERED]
        await store.lock_repairs(conn, answered)  # against a forward row being written meanwhile (api.py)
        forwarded = await store.forwarded_repairs(conn, answered)
        for e in chosen:
            day = shanghai_date(e.time)
            reference = forwarded.get(str(e.data.get("repair_id"))) if e.type == REPAIR_ANSWERED else None
            if reference is not None:
                record: ProvinceRecord | None = repair_answer(
                    e.id, e.subject, day, e.data, reference=reference, uscc=ctx.uscc
                )
            else:
                record = to_province(
                    e.id,
                    e.type,
                    e.subject,
                    day,
                    e.data,
                    uscc=ctx.uscc,
                    withdrawal_working_days=ctx.withdrawal_working_days,
                )
            if record is not None:
                province.append(province_row(record, ctx.calendar, now))
        await store.insert_province(conn, province)
        # Delivered to listeners when this transaction commits, never before.
        await conn.execute(sql("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})

    return handle


def province_row(record: ProvinceRecord, calendar: WorkingDayCalendar, now: datetime) -> dict[str, Any]:
    """The `bridge.province` row of a record (with its deadline, for a withdrawal)."""
    due = (
        calendar.add_working_days(record.event_date, record.must_reach_by_working_days).date
        if record.must_reach_by_working_days
        else None
    )
    return {
        "event_id": record.event_id,
        "action": record.action,
        "record_type": record.record_type,
        "department": record.department,
        "record_id": record.record_id,
        "subject": record.subject,
        "event_date": record.event_date,
        "due_date": due,
        "payload": record.payload,
        "now": now,
    }


async def send_back_answers_seen(conn: AsyncConnection, ctx: BridgeContext, repair_id: str, reference: str) -> int:
    """When a forward row is written (in `conn`'s transaction): the county's answers on that repair the
    consumer saw before it (they found no forward row then) go back to the province now. Locked per repair
    id against the consumer, so every answer is sent back once, whichever side commits first."""
    await store.lock_repairs(conn, [repair_id])
    now = ctx.clock.now()
    rows = [
        repair_answer(
            a["event_id"], a["subject"], shanghai_date(a["time"]), a["data"], reference=reference, uscc=ctx.uscc
        )
        for a in await store.answers_seen(conn, repair_id)
    ]
    await store.insert_province(conn, [province_row(r, ctx.calendar, now) for r in rows])
    if rows:
        await conn.execute(sql("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})
    return len(rows)


def single_handler(ctx: BridgeContext) -> Handler:
    batch = batch_handler(ctx)

    async def handle(conn: AsyncConnection, event: CloudEvent) -> None:
        await batch(conn, [event])

    return handle
