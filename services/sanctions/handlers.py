"""Message handlers of the sanctions service: one function per message kind; each runs inside the
consumer's transaction (with the inbox row) and never commits itself."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.envelope import CloudEvent
from services.common.records import AcceptedRecord, store_received_record

SCHEMA = "sanctions"


async def handle(conn: AsyncConnection, event: CloudEvent) -> None:
    await store_received_record(conn, SCHEMA, AcceptedRecord.from_event(event))
