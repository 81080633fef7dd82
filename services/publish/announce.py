"""Queue outcome events for Kafka (outbox) and the HTTP feed, in the caller's transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.envelope import CloudEvent
from services.common.outcomes import emit
from services.publish import store
from services.publish.context import PublishContext


async def announce(conn: AsyncConnection, ctx: PublishContext, topic: str, outcome: list[CloudEvent]) -> None:
    if outcome:
        await emit(conn, schema=ctx.schema, topic=ctx.topic(topic), events=outcome)
        await store.append_feed(conn, ctx.schema, outcome)
