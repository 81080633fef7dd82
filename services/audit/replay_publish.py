"""Rebuilding the publish service's state for `exchange audit replay`, in a scratch *database*.

The publish store names its schema (`publish`) in its SQL, so the rebuild runs in a database of its own
created for the replay, where the service's migrations create the same schema; the live handler
(:class:`~services.publish.handlers.Publisher`) then applies the events with the clock fixed at the as-of
instant. Creating a database needs the CREATEDB privilege (the local cluster's role has it); without it
the replay says so and rebuilds the other services.

Publish's inputs are the record topics and the cases filed on its portal, which reach the topics only as
``cn.credit.objection.filed`` / ``cn.credit.repair.filed``: those seed the cases first (their answers are
records, and a record answering a case that does not exist yet would be dropped), then the records are
applied, then the flags are refreshed and one tick runs for the as-of day (withdrawals at 公示截止期,
escalations), as the live ticker would have. What the topics never carry (an objection's reason and
contact, a repair's commitment) is not rebuilt and not compared.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.calendar import WorkingDayCalendar
from services.common.catalogue import Catalogue
from services.common.clock import FixedClock, shanghai_date
from services.common.db import create_engine
from services.common.envelope import CloudEvent
from services.common.settings import CommonSettings
from services.common.vocabulary import EventType

log = logging.getLogger(__name__)

OBJECTION_FILED = EventType.OBJECTION_FILED
REPAIR_FILED = EventType.REPAIR_FILED
SEEDS = frozenset({OBJECTION_FILED, REPAIR_FILED})


class ScratchDatabaseRefused(Exception):
    """The database server would not create the scratch database (no CREATEDB privilege, …)."""


def scratch_url(database_url: str, name: str) -> str:
    return make_url(database_url).set(database=name).render_as_string(hide_password=False)


async def create_database(engine: AsyncEngine, name: str) -> None:
    try:
        async with engine.connect() as plain:
            conn = await plain.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        raise ScratchDatabaseRefused(f"could not create the scratch database {name}: {exc}") from exc


async def drop_database(engine: AsyncEngine, name: str) -> None:
    async with engine.connect() as plain:
        conn = await plain.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class PublishRebuild:
    """The publish service's handler over a scratch database, plus the seeding of portal-filed cases."""

    def __init__(self, settings: CommonSettings, catalogue: Catalogue, url: str, clock: FixedClock) -> None:
        from services.publish.context import PublishContext
        from services.publish.handlers import Publisher
        from services.publish.rules import load_publicity_rules
        from services.publish.settings import PublishSettings
        from services.publish.store import PublicReads

        publish_settings = PublishSettings(database_url=url)
        self.engine = create_engine(url, pool_size=2)
        self.clock = clock
        self.ctx = PublishContext(
            engine=self.engine,
            settings=publish_settings,
            clock=clock,
            catalogue=catalogue,
            publicity=load_publicity_rules(settings.schemas_dir),
            calendar=WorkingDayCalendar.load(settings.schemas_dir / "calendar" / "overrides.yaml"),
            reads=PublicReads(publish_settings.asyncpg_dsn, size=1),  # never opened: no query is served
        )
        self.publisher = Publisher(self.ctx)

    @staticmethod
    def order(events: list[CloudEvent]) -> list[CloudEvent]:
        """Cases first (in filing order), then everything else in topic order."""
        return [e for e in events if e.type in SEEDS] + [e for e in events if e.type not in SEEDS]

    async def handle(self, conn: AsyncConnection, event: CloudEvent) -> None:
        if event.type == OBJECTION_FILED:
            await _seed_objection(conn, self.ctx, event.data)
        elif event.type == REPAIR_FILED:
            from services.publish import store

            await store.seed_filed_repair(conn, event.data)
        elif event.type.startswith("cn.credit.record."):
            await self.publisher.handle(conn, event)
        # other outcome events (answered, escalated) follow from the records and the ticker

    async def finish(self, as_of: datetime) -> None:
        """Objection flags on the rebuilt disclosures, then the tick of the as-of day."""
        from services.publish import store

        async with self.engine.begin() as conn:
            for department, record_id in await store.records_with_objections(conn):
                await store.refresh_objection_flag(conn, department, record_id)
        await self.publisher.on_tick(shanghai_date(as_of))

    async def close(self) -> None:
        await self.engine.dispose()


async def _seed_objection(conn: AsyncConnection, ctx: Any, data: dict[str, Any]) -> None:
    from services.publish import store

    due = ctx.calendar.add_working_days(
        shanghai_date(datetime.fromisoformat(str(data["filed_at"]))),
        ctx.settings.service_levels.objection_verification_working_days,
    )
    await store.seed_filed_objection(conn, data, due=due.date, provisional=due.provisional)
