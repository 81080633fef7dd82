"""The live consumer hands publish a whole poll at once (`Publisher.handle_batch`); it must leave exactly
what handling the events one by one leaves: the same disclosures, versions and events, in order. Both
paths run here on the same events in a transaction that is rolled back, so the live service never sees
them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.calendar import WorkingDayCalendar
from services.common.catalogue import load_catalogue
from services.common.clock import FixedClock
from services.common.db import create_engine
from services.publish.context import PublishContext
from services.publish.handlers import Publisher
from services.publish.rules import load_publicity_rules
from services.publish.settings import PublishSettings
from services.publish.store import PublicReads
from tests import factories
from tests.helpers import record_event

Apply = Callable[[AsyncConnection], Awaitable[None]]


@pytest.fixture
async def publisher(stack_env: dict[str, str], clock: FixedClock) -> AsyncIterator[Publisher]:
    settings = PublishSettings()
    engine = create_engine(stack_env["DATABASE_URL"], pool_size=2)
    ctx = PublishContext(
        engine=engine,
        settings=settings,
        clock=clock,
        catalogue=load_catalogue(settings.schemas_dir),
        publicity=load_publicity_rules(settings.schemas_dir),
        calendar=WorkingDayCalendar.load(settings.schemas_dir / "calendar" / "overrides.yaml"),
        reads=PublicReads(settings.asyncpg_dsn, size=1),
    )
    yield Publisher(ctx)
    await engine.dispose()


async def left_behind(engine: AsyncEngine, codes: list[str], apply: Apply) -> dict[str, Any]:
    """What `apply` leaves in publish's tables and outbox for `codes`, then rolled back."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        await apply(conn)
        disclosures = await conn.execute(
            text(
                "SELECT public_id, state, version, published_at, withdrawn_at, content, subject_name, due_date "
                "FROM publish.disclosures WHERE subject_code = ANY(:codes) ORDER BY public_id"
            ),
            {"codes": codes},
        )
        outbox = await conn.execute(
            text("SELECT key, value FROM publish.outbox WHERE key = ANY(:keys) ORDER BY id"),
            {"keys": [code.encode() for code in codes]},
        )
        found = {
            "disclosures": [dict(row._mapping) for row in disclosures],
            "events": [(row.key, orjson.loads(row.value)) for row in outbox],
        }
        await transaction.rollback()
    return found


async def test_a_poll_of_records_leaves_what_handling_them_one_by_one_leaves(publisher: Publisher) -> None:
    busy, other = factories.uscc(), factories.uscc()
    first = factories.penalty(code=busy, decision_date="2026-11-02", fine=20.0)
    second = factories.penalty(code=busy, decision_date="2026-11-09", categories=("吊销许可证件",), fine=None)
    licence = factories.licensing(code=busy, decision_date="2026-11-10")
    elsewhere = factories.penalty(code=other, decision_date="2026-11-05", fine=3.0)
    batch = [
        record_event(first, 1),
        record_event(elsewhere, 2),
        record_event(second, 3),
        record_event(licence, 4),
        record_event(first, 1),  # a copy in the same poll is kept once
    ]
    codes = [busy, other]
    engine = publisher.ctx.engine

    async def one_by_one(conn: AsyncConnection) -> None:
        for event in batch:
            await publisher.handle(conn, event)

    async def at_once(conn: AsyncConnection) -> None:
        await publisher.handle_batch(conn, batch)

    expected = await left_behind(engine, codes, one_by_one)
    assert len(expected["disclosures"]) == 4
    assert [e["public_id"] for _, e in expected["events"] if e.get("public_id")]  # the events carry their record
    assert await left_behind(engine, codes, at_once) == expected
