"""Message handlers of the reports service: keep every consumed record and outcome event (the inputs of
the credit view). Nothing is derived at consume time: a report is a pure function of what is kept and
its as-of date, so a redelivery or a replay changes nothing (the tables ignore a repeated id)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.consumer import BatchHandler, Handler
from services.common.envelope import CloudEvent
from services.common.records import AcceptedRecord, store_received_records
from services.reports import store
from services.reports.rules.view import Outcome

RECORD_PREFIX = "cn.credit.record."
OUTCOME_PREFIX = "cn.credit."
# Outcome topics the view reads (services/topics.py EXTRA_CONSUMED).
OUTCOME_TOPICS = (
    "outcomes.grades",
    "outcomes.sanctions",
    "outcomes.disclosures",
    "outcomes.objections",
    "outcomes.repairs",
)


def split(events: Sequence[CloudEvent]) -> tuple[list[AcceptedRecord], list[Outcome]]:
    records: list[AcceptedRecord] = []
    outcomes: list[Outcome] = []
    for e in events:
        if e.type.startswith(RECORD_PREFIX):
            records.append(AcceptedRecord.from_event(e))
        elif e.type.startswith(OUTCOME_PREFIX):
            if not isinstance(e.data, dict):
                raise ValueError(f"outcome event {e.id} has no object data")
            outcomes.append(Outcome(e.id, e.type.removeprefix(OUTCOME_PREFIX), e.subject, e.time, e.data))
        else:
            raise ValueError(f"event {e.id} of type {e.type!r} is neither a record nor an outcome")
    return records, outcomes


def batch_handler(schema: str) -> BatchHandler:
    async def handle_batch(conn: AsyncConnection, events: Sequence[CloudEvent]) -> None:
        records, outcomes = split(events)
        if records:
            await store_received_records(conn, schema, records)
        await store.store_outcomes(conn, schema, outcomes)

    return handle_batch


def handler(schema: str) -> Handler:
    batch = batch_handler(schema)

    async def handle(conn: AsyncConnection, event: CloudEvent) -> None:
        await batch(conn, [event])

    return handle
