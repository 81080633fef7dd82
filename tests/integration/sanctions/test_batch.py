"""The live consumer hands sanctions a whole poll at once (`SanctionsHandler.handle_batch`): records that
cannot open or end a case are stored in one statement, the rest handled one by one. It must leave exactly
what handling every event one by one leaves: the same cases, instructions and events, in order. Both paths
run on the same events in a transaction that is rolled back, so the live service never sees them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.catalogue import load_catalogue
from services.common.clock import FixedClock
from services.common.db import create_engine
from services.sanctions.handlers import SanctionsContext, SanctionsHandler
from services.sanctions.rules import load_measure_list
from services.sanctions.rules.measures import MEASURES_FILE
from services.sanctions.settings import SanctionsSettings
from services.sanctions.store import Store
from tests import factories
from tests.helpers import record_event
from tests.integration.sanctions.support import grade_changed, serious_listing

Apply = Callable[[AsyncConnection], Awaitable[None]]


@pytest.fixture
async def handler(stack_env: dict[str, str], clock: FixedClock) -> AsyncIterator[SanctionsHandler]:
    settings = SanctionsSettings()
    engine = create_engine(stack_env["DATABASE_URL"], pool_size=2)
    catalogue = load_catalogue(settings.schemas_dir)
    ctx = SanctionsContext(
        engine=engine,
        store=Store(settings.db_schema),
        measure_list=load_measure_list(settings.schemas_dir / MEASURES_FILE, departments=catalogue.departments),
        clock=clock,
        outcome_topic=settings.topic("outcomes.sanctions"),
        audit_topic=settings.topic("audit.access"),
    )
    yield SanctionsHandler(ctx)
    await engine.dispose()


async def left_behind(handler: SanctionsHandler, codes: list[str], apply: Apply) -> dict[str, Any]:
    """What `apply` leaves in the sanctions tables and outbox for `codes`, then rolled back."""
    schema = handler.store.s
    async with handler.ctx.engine.connect() as conn:
        transaction = await conn.begin()
        await apply(conn)
        found: dict[str, Any] = {}
        for table, key in (("records", "record_id"), ("cases", "case_id"), ("instructions", "instruction_id")):
            rows = await conn.execute(
                text(f"SELECT * FROM {schema}.{table} WHERE subject_code = ANY(:codes) ORDER BY {key}"),
                {"codes": codes},
            )
            found[table] = [
                {k: v for k, v in row._mapping.items() if k not in ("updated_at", "processed_at")} for row in rows
            ]
        outbox = await conn.execute(
            text(f"SELECT key, value FROM {schema}.outbox WHERE key = ANY(:keys) ORDER BY id"),
            {"keys": [code.encode() for code in codes]},
        )
        found["events"] = [(row.key, orjson.loads(row.value)) for row in outbox]
        await transaction.rollback()
    return found


async def test_a_poll_leaves_what_handling_its_events_one_by_one_leaves(handler: SanctionsHandler) -> None:
    listed, graded, quiet = factories.uscc(), factories.uscc(), factories.uscc()
    listing = serious_listing(listed)
    renamed = factories.penalty(code=listed, name="示范县某某建材有限公司（更名）", decision_date="2026-11-12")
    batch = [
        record_event(factories.penalty(code=quiet, decision_date="2026-11-03"), 1),
        record_event(listing, 2, "HOUSING"),
        record_event(renamed, 3),  # not a listing, but its subject now has a case: recomputed in order
        record_event(factories.licensing(code=quiet), 4),
        grade_changed(graded, rule_set="benxi-2017", old="B", new="C", effective="2026-11-12"),
        record_event(factories.penalty(code=graded, decision_date="2026-11-13"), 5),
        record_event(factories.penalty(code=quiet, decision_date="2026-11-14"), 6),
    ]
    codes = [listed, graded, quiet]

    async def one_by_one(conn: AsyncConnection) -> None:
        for event in batch:
            await handler.handle(conn, event)

    async def at_once(conn: AsyncConnection) -> None:
        await handler.handle_batch(conn, batch)

    expected = await left_behind(handler, codes, one_by_one)
    assert len(expected["records"]) == 6
    assert {c["subject_code"] for c in expected["cases"]} == {listed, graded}
    assert expected["events"]  # cases opened and instructions sent
    assert await left_behind(handler, codes, at_once) == expected
