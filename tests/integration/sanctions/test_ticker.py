"""The ticker re-evaluates every subject whose case changes with time, each on its own: one subject that
always fails (here: a stored record it cannot read) must not hold back every later subject code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
from sqlalchemy import text

from services.common.clock import SHANGHAI, FixedClock
from services.common.db import create_engine
from services.sanctions.settings import SanctionsSettings
from tests import factories
from tests.conftest import unique
from tests.integration.sanctions.support import report, serious_listing, wait_case


@pytest.fixture
async def poisoned(stack_env: dict[str, str]) -> AsyncIterator[str]:
    """A subject whose every recomputation fails, due before any real code (codes sort after '0…')."""
    schema = SanctionsSettings().db_schema
    code = "0" + unique("POISON")[:17]
    engine = create_engine(stack_env["DATABASE_URL"], pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    f"INSERT INTO {schema}.cases (case_id, subject_code, subject_kind, nature, trigger_kind, "
                    "trigger_record_id, since, until, state, state_since, objection_ids, departments, measures, "
                    "measure_list_version, emitted) VALUES (:id, :code, 'legal_person', 'sanction', "
                    "'serious_untrustworthy_listing', 'X', '2020-01-01', '2020-12-31', 'open', '2020-01-01', "
                    "'[]', '[]', '[]', 'poison', '[]')"
                ),
                {"id": f"case-{code}", "code": code},
            )
            await conn.execute(
                text(
                    f"INSERT INTO {schema}.records (department, record_id, record_type, subject_code, decision_date, "
                    "received_at, record, receipt) VALUES ('AMR', :id, 'serious_untrustworthy_listing', :code, "
                    "'2020-01-01', now(), CAST('{}' AS jsonb), CAST('{}' AS jsonb))"
                ),
                {"id": f"AMR-{code}", "code": code},
            )
        yield code
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DELETE FROM {schema}.cases WHERE subject_code = :c"), {"c": code})
            await conn.execute(text(f"DELETE FROM {schema}.records WHERE subject_code = :c"), {"c": code})
        await engine.dispose()


async def test_a_subject_that_always_fails_does_not_block_the_ticker_for_later_subjects(
    ingest: httpx.AsyncClient, sanctions: httpx.AsyncClient, tokens: dict[str, str], at: FixedClock, poisoned: str
) -> None:
    code = factories.uscc()
    assert poisoned < code
    await report(ingest, tokens, serious_listing(code, period_end="2026-11-20"))
    await wait_case(sanctions, tokens, code, lambda c: c["state"] == "open", "the listing's case")

    at.set(datetime(2026, 11, 21, 0, 5, tzinfo=SHANGHAI))  # both are due; the poisoned one fails every tick
    lifted = await wait_case(sanctions, tokens, code, lambda c: c["state"] == "lifted", "the later subject's expiry")
    assert (lifted["reason"], lifted["state_since"]) == ("期满", "2026-11-21")
