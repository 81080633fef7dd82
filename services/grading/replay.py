"""Rebuilding grading state from record events into an empty schema (DOMAIN §10: an auditor replays the
record topics and must get the same grades as the live service).

The replay goes through the same `record_handler` as the live consumer, one transaction per event, with
the clock fixed to the day the live grades were computed. Grades do not depend on the order of the
events, only on the set of records and the as-of date.
"""

from __future__ import annotations

from collections.abc import Iterable

from alembic import command
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.envelope import CloudEvent
from services.common.migrations import alembic_config
from services.grading.handlers import GradingContext, record_handler


def migrate_schema(schema: str, database_url: str) -> None:
    """Create `schema` with the grading tables (the service's own migrations, in another schema).

    Blocking: Alembic runs its own event loop, so call it from a thread when a loop is running."""
    config = alembic_config("grading", database_url)
    config.attributes["schema"] = schema
    command.upgrade(config, "head")


async def rebuild(engine: AsyncEngine, ctx: GradingContext, events: Iterable[CloudEvent]) -> int:
    """Apply record events to `ctx.schema` in the order given; returns how many were applied."""
    handle = record_handler(ctx)
    applied = 0
    for event in events:
        async with engine.begin() as conn:
            await handle(conn, event)
        applied += 1
    return applied
