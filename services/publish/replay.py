"""Rebuilding the publish service's state for `exchange audit replay`, in a scratch schema like the others.

The store takes the schema (services/publish/store/), so the rebuild runs beside the live schema in the same
database (or the auditor's own): the service's migrations create the scratch schema, the live handler
(:class:`~services.publish.handlers.Publisher`, its one batch path) applies the records with the clock fixed
at the as-of instant.

Publish's inputs are the record topics and the cases filed on its portal, which reach the topics only as
``cn.credit.objection.filed`` / ``cn.credit.repair.filed`` (the manifest's ``replay_seeds``): those seed the
cases first (their answers are records, and a record answering a case that does not exist yet would be
dropped), then the records are applied, then the flags are refreshed and one tick runs for the as-of day
(withdrawals at 公示截止期, escalations), as the live ticker would have. What the topics never carry (an
objection's reason and contact, a repair's commitment) is not rebuilt and not compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.calendar import WorkingDayCalendar
from services.common.catalogue import Catalogue
from services.common.clock import FixedClock, shanghai_date
from services.common.envelope import CloudEvent
from services.common.settings import CommonSettings
from services.common.vocabulary import EventType
from services.publish import store
from services.publish.context import PublishContext
from services.publish.handlers import Publisher
from services.publish.rules import load_publicity_rules
from services.publish.settings import PublishSettings

SEEDS = frozenset({EventType.OBJECTION_FILED, EventType.REPAIR_FILED})
RECORD_EVENT = "cn.credit.record."


class PublishReplay:
    """The publish service's handler over a scratch schema, plus the seeding of portal-filed cases."""

    def __init__(
        self, settings: CommonSettings, *, catalogue: Catalogue, engine: AsyncEngine, clock: FixedClock, schema: str
    ) -> None:
        # The replay's settings (topics, rule files, jurisdiction), with publish's defaults for the rest.
        own = PublishSettings(**settings.model_dump())
        schemas_dir = own.schemas_dir
        self.ctx = PublishContext(
            engine=engine,
            settings=own,
            clock=clock,
            catalogue=catalogue,
            publicity=load_publicity_rules(schemas_dir),
            calendar=WorkingDayCalendar.load(schemas_dir / "calendar" / "overrides.yaml"),
            # never opened: the rebuild serves no query
            reads=store.PublicReads(own.asyncpg_dsn, size=1, schema=schema),
            schema=schema,
        )
        self.publisher = Publisher(self.ctx)

    @staticmethod
    def order(events: Sequence[CloudEvent]) -> list[CloudEvent]:
        """Cases first (in filing order), then everything else in topic order."""
        return [e for e in events if e.type in SEEDS] + [e for e in events if e.type not in SEEDS]

    async def handle_batch(self, conn: AsyncConnection, batch: Sequence[CloudEvent]) -> None:
        """Seeds one by one; each run of record events as one poll of the live consumer's batch path. Other
        outcome events (answered, escalated) follow from the records and the ticker."""
        run: list[CloudEvent] = []
        for event in batch:
            if event.type.startswith(RECORD_EVENT):
                run.append(event)
                continue
            if run:
                await self.publisher.handle_batch(conn, run)
                run = []
            if event.type == EventType.OBJECTION_FILED:
                await self._seed_objection(conn, event)
            elif event.type == EventType.REPAIR_FILED:
                await store.seed_filed_repair(conn, self.ctx.schema, event.data)
        if run:
            await self.publisher.handle_batch(conn, run)

    async def _seed_objection(self, conn: AsyncConnection, event: CloudEvent) -> None:
        data = event.data
        due = self.ctx.calendar.add_working_days(
            shanghai_date(datetime.fromisoformat(str(data["filed_at"]))),
            self.ctx.settings.service_levels.objection_verification_working_days,
        )
        await store.seed_filed_objection(conn, self.ctx.schema, data, due=due.date, provisional=due.provisional)

    async def finish(self, as_of: datetime) -> None:
        """Objection flags on the rebuilt disclosures, then the tick of the as-of day."""
        schema = self.ctx.schema
        async with self.ctx.engine.begin() as conn:
            for department, record_id in await store.records_with_objections(conn, schema):
                await store.refresh_objection_flag(conn, schema, department, record_id)
        await self.publisher.on_tick(shanghai_date(as_of))
