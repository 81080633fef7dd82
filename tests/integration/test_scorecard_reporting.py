"""The reporting part of the county's department scorecard (000 L121), served by ingest: records accepted,
reported late and rejected by error, per department and month; a department sees only its own."""

from __future__ import annotations

from typing import Any

import httpx

from tests import factories
from tests.helpers import eventually


def bearer(tokens: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['TOKEN_' + who]}"}


async def housing_row(ingest: httpx.AsyncClient, tokens: dict[str, str], who: str = "COUNTY") -> dict[str, Any]:
    response = await ingest.get(
        "/v1/scorecard", params={"month": "2026-11", "department": "HOUSING"}, headers=bearer(tokens, who)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["month"], body["part"]) == ("2026-11", "reporting")
    rows = [r for r in body["departments"] if r["department"] == "HOUSING"]
    return rows[0] if rows else {"accepted": 0, "reported_late": 0, "rejected": 0, "rejections_by_code": {}}


async def test_scorecard_counts_accepted_late_and_rejected_records_of_the_month(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    before = await housing_row(ingest, tokens)
    on_time = factories.penalty(department="HOUSING", decision_date="2026-11-16")
    late = factories.penalty(department="HOUSING", decision_date="2026-10-01")  # reported 50 days after
    invalid = factories.penalty(department="HOUSING")
    del invalid["data"]["CF_YJ"]
    for record, status in ((on_time, 202), (late, 202), (invalid, 422)):
        response = await ingest.post("/v1/records", json=record, headers=bearer(tokens, "HOUSING"))
        assert response.status_code == status, response.text

    async def counted() -> dict[str, Any] | None:
        row = await housing_row(ingest, tokens)
        return row if row["rejected"] > before["rejected"] else None  # rejections are flushed every 2 s

    after = await eventually(counted, timeout=15, what="the rejection to reach the scorecard")
    assert after["accepted"] - before["accepted"] == 2
    assert after["reported_late"] - before["reported_late"] == 1
    assert after["rejected"] - before["rejected"] == 1
    assert after["rejections_by_code"]["required"] - before["rejections_by_code"].get("required", 0) == 1
    assert after["late_rate"] == round(after["reported_late"] / after["accepted"], 4)
    assert after["rejection_rate"] == round(after["rejected"] / (after["rejected"] + after["accepted"]), 4)


async def test_a_department_reads_only_its_own_scorecard_and_the_month_must_be_well_formed(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    own = await ingest.get("/v1/scorecard", params={"month": "2026-11"}, headers=bearer(tokens, "HOUSING"))
    other = await ingest.get(
        "/v1/scorecard", params={"month": "2026-11", "department": "AMR"}, headers=bearer(tokens, "HOUSING")
    )
    malformed = await ingest.get("/v1/scorecard", params={"month": "2026-13"}, headers=bearer(tokens, "COUNTY"))
    anonymous = await ingest.get("/v1/scorecard", params={"month": "2026-11"})

    assert {r["department"] for r in own.json()["departments"]} <= {"HOUSING"}
    assert other.status_code == 403
    assert (malformed.status_code, malformed.json()["errors"][0]["path"]) == (422, "/query/month")
    assert anonymous.status_code == 401
