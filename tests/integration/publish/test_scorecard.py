"""The publish part of the county's department scorecard (000 L121): disclosure deadlines, objection
answers and repair decisions that fell due in a month, per department — on time, late or overdue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from services.common.clock import SHANGHAI, FixedClock
from tests import factories
from tests.helpers import eventually
from tests.integration.publish.support import bearer, public_id, repair_decision, report, verification, wait_shown


async def row(publish: httpx.AsyncClient, tokens: dict[str, str], month: str, department: str) -> dict[str, Any]:
    response = await publish.get(
        "/v1/scorecard", params={"month": month, "department": department}, headers=bearer(tokens, "COUNTY")
    )
    assert response.status_code == 200, response.text
    found = [r for r in response.json()["departments"] if r["department"] == department]
    empty = {"due": 0, "on_time": 0, "late": 0, "overdue": 0, "pending": 0}
    return (
        found[0] if found else {"disclosures": {"due": 0, "met": 0, "late": 0}, "objections": empty, "repairs": empty}
    )


async def test_a_record_reported_after_its_disclosure_deadline_counts_late_against_the_department(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = factories.penalty(department="TAX", fine=20.0, decision_date="2025-03-10")  # due 2025-03-19
    await report(ingest, tokens, record, "TAX")
    await wait_shown(publish, public_id(record, "TAX"))

    march = (await row(publish, tokens, "2025-03", "TAX"))["disclosures"]

    assert (march["due"], march["met"], march["late"], march["late_department"]) == (1, 0, 1, 1)
    assert march["met_rate"] == 0.0


async def test_objection_answers_and_repair_decisions_are_scored_on_time_or_overdue(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str], at: FixedClock
) -> None:
    before = await row(publish, tokens, "2026-12", "HOUSING")
    disputed = factories.penalty(department="HOUSING", fine=20.0)
    repaired = factories.penalty(department="HOUSING", fine=20.0, decision_date="2026-07-01")
    forgotten = factories.penalty(department="HOUSING", fine=20.0, decision_date="2026-07-02")
    for record in (disputed, repaired, forgotten):
        await report(ingest, tokens, record, "HOUSING")
        await wait_shown(publish, public_id(record, "HOUSING"))
    objection = await publish.post(
        "/v1/objections",
        json={
            "record_id": public_id(disputed, "HOUSING"),
            "subject_code": disputed["subject"]["code"],
            "reason": "罚款金额有误。",
            "contact": "13800000000",
        },
    )
    cases = []
    for record in (repaired, forgotten):
        response = await publish.post(
            "/v1/repairs",
            json={
                "record_id": public_id(record, "HOUSING"),
                "subject_code": record["subject"]["code"],
                "commitment": "承诺已纠正失信行为并依法诚信经营。",
                "fulfilment": "罚款已缴清。",
                "contact": "13800000000",
            },
        )
        assert response.status_code == 201, response.text
        cases.append(response.json()["repair"]["repair_id"])
    await report(
        ingest,
        tokens,
        verification(disputed, objection.json()["objection"]["objection_id"], "不属实", "2026-11-20"),
        "HOUSING",
    )
    await report(ingest, tokens, repair_decision(repaired, cases[0], "准予修复"), "HOUSING")

    async def scored() -> dict[str, Any] | None:
        now = await row(publish, tokens, "2026-12", "HOUSING")
        done = now["objections"]["on_time"] > before["objections"]["on_time"]
        return now if done and now["repairs"]["on_time"] > before["repairs"]["on_time"] else None

    answered = await eventually(scored, what="the answer and the decision to be scored on time")
    assert answered["repairs"]["pending"] - before["repairs"]["pending"] == 1  # the forgotten one, not yet due

    at.set(datetime(2026, 12, 2, 9, 0, tzinfo=SHANGHAI))  # the decisions were due 2026-12-01
    late = await row(publish, tokens, "2026-12", "HOUSING")
    assert late["repairs"]["overdue"] - before["repairs"]["overdue"] == 1
    assert late["repairs"]["on_time_rate"] is not None
