"""The 7-working-day disclosure clock per department (`GET /v1/deadlines`, DOMAIN §4, §7)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.common.calendar import WorkingDayCalendar
from services.common.clock import SHANGHAI, FixedClock
from services.publish.deadlines import clock_entry
from tests import factories
from tests.helpers import eventually
from tests.integration.publish.support import bearer, context, public_id, report, wait_shown

CALENDAR = WorkingDayCalendar.load(factories.SCHEMAS / "calendar" / "overrides.yaml")


async def deadlines(publish: httpx.AsyncClient, tokens: dict[str, str], who: str, **params: str) -> Any:
    response = await publish.get("/v1/deadlines", params=params, headers=bearer(tokens, who))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def entry_of(body: dict[str, Any], record_id: str) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [e for e in body["records"] if e["record_id"] == record_id]
    assert len(entries) == 1, entries
    return entries[0]


async def test_record_published_by_its_due_date_is_met_and_one_reported_after_it_is_late_by_the_department(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    on_time = factories.penalty(decision_date="2026-11-18", fine=20.0, department="HOUSING")  # due 2026-11-27
    too_late = factories.penalty(decision_date="2026-11-02", fine=20.0, department="HOUSING")  # due 2026-11-11
    for record in (on_time, too_late):
        await report(ingest, tokens, record, "HOUSING")
    for record in (on_time, too_late):
        await wait_shown(publish, public_id(record, "HOUSING"), "published")

    body = await deadlines(publish, tokens, "HOUSING")

    met, late = entry_of(body, public_id(on_time, "HOUSING")), entry_of(body, public_id(too_late, "HOUSING"))
    assert (met["state"], met["due"], met["responsible"]) == ("met", "2026-11-27", None)
    assert (late["state"], late["due"], late["responsible"]) == ("late", "2026-11-11", "department")
    (housing,) = body["summary"]
    assert housing["department"] == "HOUSING"
    assert housing["met"] >= 1
    assert housing["late_department"] >= 1
    only_late = await deadlines(publish, tokens, "COUNTY", department="HOUSING", state="late")
    assert {e["state"] for e in only_late["records"]} == {"late"}


async def test_department_sees_only_its_own_deadlines(publish: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    other = await publish.get("/v1/deadlines", params={"department": "TAX"}, headers=bearer(tokens, "AMR"))
    anonymous = await publish.get("/v1/deadlines")

    assert other.status_code == 403
    assert anonymous.status_code == 401
    assert (await deadlines(publish, tokens, "AMR"))["department"] == "AMR"


async def test_provisional_due_date_is_recomputed_once_the_calendar_has_the_year(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str], at: FixedClock
) -> None:
    at.set(datetime(2026, 12, 29, 10, 0, tzinfo=SHANGHAI))
    record = factories.penalty(decision_date="2026-12-28", fine=20.0, department="TAX")
    await report(ingest, tokens, record, "TAX")
    await wait_shown(publish, public_id(record, "TAX"), "the penalty on the portal")
    before = entry_of(await deadlines(publish, tokens, "TAX"), public_id(record, "TAX"))
    assert (before["due"], before["provisional"]) == ("2027-01-06", True)  # Monday-Friday only

    ctx = context(publish)
    announced = ctx.calendar
    # The 2027 notice arrives (here: 1 January off, as every year): the tick recomputes the deadline.
    ctx.calendar = WorkingDayCalendar(
        working={**announced.working, 2027: _weekdays_of_2027(off={date(2027, 1, 1)})},
        overrides_path=announced.overrides_path,
        disclosure_working_days=announced.disclosure_working_days,
    )
    try:

        async def recomputed() -> dict[str, Any] | None:
            entry = entry_of(await deadlines(publish, tokens, "TAX"), public_id(record, "TAX"))
            return entry if not entry["provisional"] else None

        # Generous: the first tick after the clock jumps to 12-29 also withdraws and escalates everything
        # earlier tests left due by then, on the same event loop as the other in-process services.
        after = await eventually(recomputed, timeout=120, what="the deadline to be recomputed on the 2027 calendar")
    finally:
        ctx.calendar = announced
    assert (after["due"], after["state"]) == ("2027-01-07", "met")


def _weekdays_of_2027(off: set[date]) -> tuple[int, ...]:
    days = (date(2027, 1, 1) + timedelta(days=n) for n in range(365))
    return tuple(d.toordinal() for d in days if d.weekday() < 5 and d not in off)


# -- clock states of records the exchange knows but has not published (pure) ----------------------


def _row(*, due: str, published: str | None = None, received: str = "2026-11-03T10:00:00+08:00") -> dict[str, Any]:
    return {
        "public_id": "AMR.AMR-1",
        "department": "AMR",
        "record_id": "AMR-1",
        "record_type": "administrative_penalty",
        "decision_date": date(2026, 11, 2),
        "received_at": datetime.fromisoformat(received),
        "due_date": date.fromisoformat(due),
        "due_provisional": False,
        "published_at": datetime.fromisoformat(published) if published else None,
        "state": "withheld" if published is None else "published",
    }


@pytest.mark.parametrize(
    ("now", "due", "state", "responsible"),
    [
        pytest.param("2026-11-04", "2026-11-11", "pending", None, id="five-working-days-ahead"),
        pytest.param("2026-11-09", "2026-11-11", "at_risk", None, id="two-working-days-ahead"),
        pytest.param("2026-11-11", "2026-11-11", "at_risk", None, id="due-today"),
        pytest.param("2026-11-12", "2026-11-11", "overdue", "exchange", id="day-after-due"),
    ],
)
def test_unpublished_record_is_pending_then_at_risk_then_overdue(
    now: str, due: str, state: str, responsible: str | None
) -> None:
    at = datetime.fromisoformat(now).replace(hour=12, tzinfo=SHANGHAI)

    entry = clock_entry(_row(due=due), now=at, calendar=CALENDAR)

    assert (entry["state"], entry["responsible"]) == (state, responsible)
