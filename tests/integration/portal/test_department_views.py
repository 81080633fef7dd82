"""Departments see the objections to their own records with due dates; county and auditor see all."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from services.publish.rules.cases import objection_overdue as is_overdue
from tests.integration.portal.support import case_of, file_on_portal, published
from tests.integration.publish.support import bearer


async def open_objections(publish: httpx.AsyncClient, tokens: dict[str, str], who: str, **params: str) -> Any:
    response = await publish.get("/v1/objections", params=params, headers=bearer(tokens, who))
    assert response.status_code == 200, response.text
    return response.json()


async def test_department_sees_open_objections_to_its_records_with_due_dates(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = await published(ingest, publish, tokens)
    objection_id, _ = case_of(await file_on_portal(publish, record))

    own = await open_objections(publish, tokens, "AMR")
    other = await open_objections(publish, tokens, "TAX")
    county = await open_objections(publish, tokens, "COUNTY", department="AMR")

    mine = [c for c in own["objections"] if c["objection_id"] == objection_id]
    assert len(mine) == 1
    assert (mine[0]["department"], mine[0]["due"], mine[0]["overdue"]) == ("AMR", "2026-12-18", False)
    assert "contact" not in mine[0]
    assert own["department"] == "AMR"
    assert objection_id not in {c["objection_id"] for c in other["objections"]}
    assert objection_id in {c["objection_id"] for c in county["objections"]}
    dues = [c["due"] for c in own["objections"]]
    assert dues == sorted(dues)


async def test_department_may_not_read_another_departments_objections(
    publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    forbidden = await publish.get("/v1/objections", params={"department": "AMR"}, headers=bearer(tokens, "TAX"))
    anonymous = await publish.get("/v1/objections")

    assert forbidden.status_code == 403
    assert anonymous.status_code == 401


def case(state: str, due: date, provisional: bool = False) -> dict[str, Any]:
    return {"state": state, "due_date": due, "due_provisional": provisional}


def test_an_objection_is_overdue_only_when_still_unanswered_after_its_final_due_date() -> None:
    today = date(2026, 12, 21)
    assert is_overdue(case("verifying", date(2026, 12, 18)), today)
    assert is_overdue(case("escalated", date(2026, 12, 18)), today)
    assert not is_overdue(case("verifying", date(2026, 12, 21)), today)
    assert not is_overdue(case("verifying", date(2026, 12, 18), provisional=True), today)
    assert not is_overdue(case("upheld", date(2026, 12, 18)), today)
    assert not is_overdue(case("rejected", date(2026, 12, 18)), today)
