"""A repair application filed at 信用中国 and forwarded down enters publish's repair flow with its external
reference (once, however often it is resent), and the county's decision goes back up to the province in
the wire format (docs/bridge-wire-format.md §5), acknowledged by the reference receiver on loopback."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from services.bridge.reference_province import ProvinceState
from tests import factories
from tests.helpers import eventually
from tests.integration.bridge.conftest import PublishGate, bearer
from tests.integration.publish.support import public_id, repair_decision, report, wait_shown


def forwarded(record: dict[str, Any], reference: str) -> dict[str, Any]:
    return {
        "format": "cx-repair/1",
        "reference": reference,
        "record_id": public_id(record),
        "subject_code": record["subject"]["code"],
        "commitment": "本单位承诺已纠正失信行为，今后严格遵守法律法规，如有违反愿承担相应责任。",
        "fulfilment": "罚款已于 2026-07-10 缴清（缴款书号 5001012026071000123）。",
        "contact": "13800000000",
    }


async def test_a_credit_china_repair_enters_the_flow_and_the_decision_goes_back(
    bridge: httpx.AsyncClient,
    ingest: httpx.AsyncClient,
    publish: httpx.AsyncClient,
    tokens: dict[str, str],
    province_state: ProvinceState,
) -> None:
    record = factories.penalty(fine=20.0, decision_date="2026-07-01")  # its 3-month minimum ended 2026-10-01
    await report(ingest, tokens, record)
    await wait_shown(publish, public_id(record), "the penalty on the portal")
    reference = f"XYZG-{uuid.uuid4().hex[:10]}"
    county = bearer(tokens, "COUNTY")

    filed = await bridge.post("/v1/bridge/repairs", json=forwarded(record, reference), headers=county)

    assert filed.status_code == 201, filed.text
    forward = filed.json()
    assert (forward["state"], forward["reference"]) == ("filed", reference)
    repair_id = forward["repair_id"]
    case = (await publish.get(f"/v1/repairs/{repair_id}", params={"code": record["subject"]["code"]})).json()
    assert case["repair"]["raised_by"] == f"信用中国:{reference}"
    assert case["repair"]["state"] == "submitted"

    # 信用中国 resends the application: the same case, nothing filed twice.
    again = await bridge.post("/v1/bridge/repairs", json=forwarded(record, reference), headers=county)
    assert (again.status_code, again.json()["repair_id"]) == (200, repair_id)
    listed = await publish.get("/v1/repairs", params={"state": "all"}, headers=bearer(tokens, "AMR"))
    assert [r["repair_id"] for r in listed.json()["repairs"] if r["record_id"] == public_id(record)] == [repair_id]

    # The deciding department answers through ingest; the answer reaches the province with the reference.
    await report(ingest, tokens, repair_decision(record, repair_id, "准予修复"))

    async def sent_back() -> dict[str, Any] | None:
        return next(
            (r for r in province_state.accepted.values() if r.get("reference") == reference),
            None,
        )

    answer = await eventually(sent_back, what="the repair decision at the province")
    assert (answer["action"], answer["format"], answer["decision"]) == ("R", "cx-repair/1", "准予修复")
    assert (answer["repair_id"], answer["department"], answer["subject_code"]) == (
        repair_id,
        "AMR",
        record["subject"]["code"],
    )

    async def acknowledged() -> dict[str, Any] | None:
        shown = (await bridge.get(f"/v1/bridge/repairs/{reference}", headers=bearer(tokens, "AUDITOR"))).json()
        done = [a for a in shown["sent_back"] if a["delivery"] == "acknowledged"]
        return shown if done else None

    shown = await eventually(acknowledged, what="the decision's delivery state")
    assert [a["decision"] for a in shown["sent_back"]] == ["准予修复"]

    # An application publish refuses (not a published record) is answered with publish's reason.
    refused = await bridge.post(
        "/v1/bridge/repairs",
        json=forwarded(record, f"XYZG-{uuid.uuid4().hex[:10]}") | {"record_id": "AMR.no-such-record"},
        headers=county,
    )
    assert refused.status_code == 422
    assert refused.json()["state"] == "refused"
    assert refused.json()["answer"]["errors"][0]["path"] == "/record_id"
    # Only the county office forwards; a department may not.
    department = await bridge.post("/v1/bridge/repairs", json=forwarded(record, "X1"), headers=bearer(tokens, "AMR"))
    assert department.status_code == 403


async def test_an_answer_published_before_the_forward_row_is_written_still_goes_back(
    bridge: httpx.AsyncClient,
    ingest: httpx.AsyncClient,
    publish: httpx.AsyncClient,
    publish_gate: PublishGate,
    tokens: dict[str, str],
    province_state: ProvinceState,
) -> None:
    """The department decides while the bridge is still waiting for publish's answer to the filing: the
    bridge sees the decision (in its feed) before it has written the reference → repair id row."""
    record = factories.penalty(fine=20.0, decision_date="2026-07-01")
    await report(ingest, tokens, record)
    await wait_shown(publish, public_id(record), "the penalty on the portal")
    reference = f"XYZG-{uuid.uuid4().hex[:10]}"
    decided: list[str] = []

    async def decide_first(filed: dict[str, Any]) -> None:
        repair_id = filed["repair"]["repair_id"]
        await report(ingest, tokens, repair_decision(record, repair_id, "不予受理"))

        async def in_the_feed() -> list[dict[str, Any]] | None:
            page = await bridge.get(
                "/v1/outcomes", params={"type": "cn.credit.repair.answered", "limit": 1000}, headers=county
            )
            return [e for e in page.json()["events"] if e["data"].get("repair_id") == repair_id] or None

        decided.extend(e["id"] for e in await eventually(in_the_feed, what="the decision in the bridge's feed"))

    county = bearer(tokens, "COUNTY")
    publish_gate.hold = decide_first
    try:
        filed = await bridge.post("/v1/bridge/repairs", json=forwarded(record, reference), headers=county)
    finally:
        publish_gate.hold = None
    assert filed.status_code == 201, filed.text
    assert len(decided) == 1
    assert [a["event_id"] for a in filed.json()["sent_back"]] == decided  # queued with the forward row

    async def sent_back() -> list[dict[str, Any]] | None:
        return [r for r in province_state.accepted.values() if r.get("reference") == reference] or None

    answers = await eventually(sent_back, what="the early decision at the province")
    assert [(a["action"], a["decision"], a["id"]) for a in answers] == [("R", "不予受理", decided[0])]
