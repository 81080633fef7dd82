"""应查必查 compliance (issue 22, 001 L376): of a department's licensing decisions in a month, which were
preceded by a restriction check about the subject."""

from __future__ import annotations

from datetime import datetime

import httpx

from services.common.clock import SHANGHAI, FixedClock
from tests import factories
from tests.helpers import eventually
from tests.integration.sanctions.support import bearer, report


async def test_licences_checked_first_are_counted_and_the_others_named(
    sanctions: httpx.AsyncClient, ingest: httpx.AsyncClient, tokens: dict[str, str], at: FixedClock
) -> None:
    at.set(datetime(2026, 3, 10, 9, 0, tzinfo=SHANGHAI))
    checked = factories.licensing(decision_date="2026-03-10", valid_from="2026-03-10")
    unchecked = factories.licensing(decision_date="2026-03-10", valid_from="2026-03-10")
    asked = await sanctions.get(
        f"/v1/subjects/{checked['subject']['code']}/restrictions",
        params={"matter": "administrative_licensing"},
        headers=bearer(tokens, "AMR"),
    )
    assert asked.status_code == 200, asked.text
    await report(ingest, tokens, checked)
    await report(ingest, tokens, unchecked)

    async def compliance() -> dict[str, object] | None:
        response = await sanctions.get(
            "/v1/checks/compliance", params={"month": "2026-03"}, headers=bearer(tokens, "AMR")
        )
        assert response.status_code == 200, response.text
        (amr,) = response.json()["departments"] or [None]
        if amr is None or unchecked["id"] not in amr["unchecked_record_ids"]:
            return None
        return dict(amr)

    amr = await eventually(compliance, what="both licences in the compliance count")
    assert checked["id"] not in amr["unchecked_record_ids"]  # type: ignore[operator]
    assert amr["department"] == "AMR"
    other = await sanctions.get(
        "/v1/checks/compliance", params={"month": "2026-03", "department": "AMR"}, headers=bearer(tokens, "TAX")
    )
    assert other.status_code == 403


async def test_the_measure_list_is_served_to_anyone(sanctions: httpx.AsyncClient) -> None:
    response = await sanctions.get("/v1/measures")  # no token: public (001 L621)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sanctions"]
    assert all(m["legal_basis"]["document"] for m in body["sanctions"] + body["rewards"])
    assert "administrative_licensing" in body["matters"]
