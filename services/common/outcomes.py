"""Outcome events (grades, sanctions, disclosures, objections, access log) written through the outbox.

Event ids are deterministic — built from what the event is about, never from a random number — so a
replay of the record topics produces the same ids and a consumer's inbox recognises them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common import request_id
from services.common.envelope import CloudEvent
from services.common.outbox import enqueue, outbox_row


def outcome_event(
    *, service: str, kind: str, subject: str, event_id: str, time: datetime, data: dict[str, Any]
) -> CloudEvent:
    """`kind` is the last part of the CloudEvents type: `grade.changed`, `disclosure.published` …"""
    return CloudEvent(
        id=event_id,
        source=f"/services/{service}",
        type=f"cn.credit.{kind}",
        subject=subject,
        time=time,
        data=data,
        dataschema=f"/asyncapi#{kind}",
    )


async def emit(conn: AsyncConnection, *, schema: str, topic: str, events: list[CloudEvent]) -> None:
    """Queue outcome events in the caller's transaction (they leave after its commit), each carrying the
    request id of what caused it (`requestid`), so one record is followed to every outcome."""
    await enqueue(conn, schema, [outbox_row(topic, traced(e)) for e in events])


def traced(event: CloudEvent) -> CloudEvent:
    if event.requestid:
        return event
    rid = request_id.cause_of(event.subject)
    return replace(event, requestid=rid) if rid else event
