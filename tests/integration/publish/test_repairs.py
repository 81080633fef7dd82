"""Credit repair (信用修复, DOMAIN §9): applied for after the minimum publicity period, answered by the
deciding department through ingest (受理 / 不予受理 / 延长办理期限 / 准予修复 / 不予修复) within 3 and 7 (+10)
working days, escalated when a step is late; an approved repair takes the record off the portal.

Today is Friday 2026-11-20 (the session clock): acceptance is due Wednesday 2026-11-25, the decision
Tuesday 2026-12-01, or 2026-12-15 when extended.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx
import orjson

from deploy.stack import Stack
from services.common.clock import SHANGHAI, FixedClock
from tests import factories
from tests.helpers import eventually, find_on_topic, header
from tests.integration.publish.support import (
    amendment,
    bearer,
    public_id,
    repair_decision,
    report,
    shown,
    wait_shown,
)

GENERAL_FINE = 20.0  # 20 万元 for a company: 一般, published 3 months to 1 year under 36号令
REPAIRABLE_SINCE = "2026-07-01"  # decided then, its 3-month minimum ended 2026-10-01


async def repairable_penalty(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str], decided: str = REPAIRABLE_SINCE
) -> dict[str, Any]:
    record = factories.penalty(fine=GENERAL_FINE, decision_date=decided)
    await report(ingest, tokens, record)
    await wait_shown(publish, public_id(record), "the penalty on the portal")
    return record


async def apply(publish: httpx.AsyncClient, record: dict[str, Any], **headers: str) -> httpx.Response:
    body = {
        "record_id": public_id(record),
        "subject_code": record["subject"]["code"],
        "commitment": "本单位承诺已纠正失信行为，今后严格遵守食品安全法律法规，如有违反愿承担相应责任。",
        "fulfilment": "罚款已于 2026-07-10 缴清（缴款书号 5001012026071000123）。",
        "contact": "13800000000",
    }
    return await publish.post("/v1/repairs", json=body, headers=headers)


async def repair_state(publish: httpx.AsyncClient, repair_id: str, code: str) -> dict[str, Any]:
    response = await publish.get(f"/v1/repairs/{repair_id}", params={"code": code})
    assert response.status_code == 200, response.text
    case: dict[str, Any] = response.json()["repair"]
    return case


async def wait_state(publish: httpx.AsyncClient, case: dict[str, Any], state: str) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        now = await repair_state(publish, case["repair_id"], case["subject_code"])
        return now if now["state"] == state else None

    return await eventually(reached, what=f"the repair case to be {state}")


async def test_application_is_filed_with_its_deadlines_and_announced(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str], stack: Stack
) -> None:
    record = await repairable_penalty(ingest, publish, tokens)

    response = await apply(publish, record)

    assert response.status_code == 201, response.text
    case = response.json()["repair"]
    assert re.fullmatch(r"REP-20261120-[0-9A-F]{8}", case["repair_id"])
    assert (case["state"], case["state_label"], case["department"]) == ("submitted", "已提交，待受理", "AMR")
    assert (case["accept_due"], case["decide_due"], case["provisional"]) == ("2026-11-25", "2026-12-01", False)
    assert "contact" not in case
    topic = f"{stack.config.topic_prefix}outcomes.repairs"
    message = await find_on_topic(
        stack.bootstrap, topic, lambda m: header(m, "ce_id") == f"publish:repair:{case['repair_id']}:filed"
    )
    assert header(message, "ce_type") == "cn.credit.repair.filed"
    assert message.key == record["subject"]["code"].encode()
    data = orjson.loads(message.value or b"")
    assert (data["record_id"], data["state"], data["decide_due"]) == (record["id"], "submitted", "2026-12-01")
    assert "commitment" not in data
    assert "contact" not in data


async def test_accepted_then_approved_repair_takes_the_record_off_the_portal(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str], stack: Stack
) -> None:
    record = await repairable_penalty(ingest, publish, tokens)
    case = (await apply(publish, record)).json()["repair"]

    await report(ingest, tokens, repair_decision(record, case["repair_id"], "受理"))
    accepted = await wait_state(publish, case, "accepted")
    assert accepted["accepted_at"] is not None
    assert accepted["decided_at"] is None
    assert await shown(publish, public_id(record)) is not None  # still published while under review

    approval = repair_decision(record, case["repair_id"], "准予修复")
    await report(ingest, tokens, approval)
    approved = await wait_state(publish, case, "approved")

    assert (approved["decision"], approved["state_label"]) == ("准予修复", "准予修复，已停止公示")
    assert await eventually(lambda: _gone(publish, record), what="the repaired record off the portal")
    topic = f"{stack.config.topic_prefix}outcomes.disclosures"
    withdrawn = await find_on_topic(
        stack.bootstrap,
        topic,
        lambda m: (
            header(m, "ce_type") == "cn.credit.disclosure.withdrawn"
            and orjson.loads(m.value or b"")["public_id"] == public_id(record)
        ),
    )
    assert "信用修复" in orjson.loads(withdrawn.value or b"")["reason"]
    answered = await find_on_topic(
        stack.bootstrap,
        f"{stack.config.topic_prefix}outcomes.repairs",
        lambda m: header(m, "ce_id") == f"publish:repair:{case['repair_id']}:answered:{approval['id']}",
    )
    assert orjson.loads(answered.value or b"")["decision"] == "准予修复"
    again = await apply(publish, record)
    assert (again.status_code, again.json()["errors"][0]["code"]) == (409, "repaired")


async def _gone(publish: httpx.AsyncClient, record: dict[str, Any]) -> bool:
    return await shown(publish, public_id(record)) is None


async def test_refused_and_not_accepted_applications_leave_the_record_published(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    refused_record = await repairable_penalty(ingest, publish, tokens)
    refused_case = (await apply(publish, refused_record)).json()["repair"]
    not_accepted_record = await repairable_penalty(ingest, publish, tokens)
    not_accepted_case = (await apply(publish, not_accepted_record)).json()["repair"]

    await report(ingest, tokens, repair_decision(refused_record, refused_case["repair_id"], "受理"))
    await wait_state(publish, refused_case, "accepted")
    await report(ingest, tokens, repair_decision(refused_record, refused_case["repair_id"], "不予修复"))
    await report(ingest, tokens, repair_decision(not_accepted_record, not_accepted_case["repair_id"], "不予受理"))

    refused = await wait_state(publish, refused_case, "refused")
    not_accepted = await wait_state(publish, not_accepted_case, "not_accepted")
    assert (refused["state_label"], refused["explanation"]) == ("不予修复", "经审核申请材料和履行凭证，作出如下决定。")
    assert not_accepted["accepted_at"] is None
    assert not_accepted["decided_at"] is not None
    assert await shown(publish, public_id(refused_record)) is not None
    assert await shown(publish, public_id(not_accepted_record)) is not None
    # A closed case does not block a new application.
    assert (await apply(publish, refused_record)).status_code == 201


async def test_extension_moves_the_decision_deadline_by_ten_working_days(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = await repairable_penalty(ingest, publish, tokens)
    case = (await apply(publish, record)).json()["repair"]

    await report(ingest, tokens, repair_decision(record, case["repair_id"], "受理"))
    await wait_state(publish, case, "accepted")
    await report(ingest, tokens, repair_decision(record, case["repair_id"], "延长办理期限"))
    extended = await wait_state(publish, case, "extended")

    assert (extended["decide_due"], extended["state_label"]) == ("2026-12-15", "已受理，延长办理期限")
    await report(ingest, tokens, repair_decision(record, case["repair_id"], "准予修复"))
    await wait_state(publish, case, "approved")


async def test_a_decision_out_of_order_is_kept_as_a_record_but_does_not_reopen_the_case(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = await repairable_penalty(ingest, publish, tokens)
    case = (await apply(publish, record)).json()["repair"]
    await report(ingest, tokens, repair_decision(record, case["repair_id"], "不予受理"))
    await wait_state(publish, case, "not_accepted")

    late_acceptance = repair_decision(record, case["repair_id"], "受理")
    await report(ingest, tokens, late_acceptance)
    marker = await repairable_penalty(ingest, publish, tokens)  # reported after it: once shown, it was handled

    assert marker is not None
    assert (await repair_state(publish, case["repair_id"], case["subject_code"]))["state"] == "not_accepted"


async def test_late_acceptance_and_late_decision_are_each_escalated_once(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str], at: FixedClock, stack: Stack
) -> None:
    record = await repairable_penalty(ingest, publish, tokens)
    case = (await apply(publish, record)).json()["repair"]
    topic = f"{stack.config.topic_prefix}outcomes.repairs"

    at.set(datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI))  # the day after acceptance was due

    async def escalated(step: str) -> dict[str, Any] | None:
        now = await repair_state(publish, case["repair_id"], case["subject_code"])
        return now if now[f"{step}_escalated_at"] else None

    late = await eventually(lambda: escalated("acceptance"), what="the late acceptance to be escalated")
    assert (late["acceptance_escalated_at"], late["overdue"], late["decision_escalated_at"]) == (
        "2026-11-26T09:00:00+08:00",
        "acceptance",
        None,
    )
    views = await publish.get("/v1/repairs", params={"department": "AMR"}, headers=bearer(tokens, "COUNTY"))
    listed = [c for c in views.json()["repairs"] if c["repair_id"] == case["repair_id"]]
    assert [c["overdue"] for c in listed] == ["acceptance"]

    at.set(datetime(2026, 12, 2, 9, 0, tzinfo=SHANGHAI))  # the day after the decision was due
    await eventually(lambda: escalated("decision"), what="the late decision to be escalated")
    for step in ("acceptance", "decision"):
        message = await find_on_topic(
            stack.bootstrap,
            topic,
            lambda m, s=step: header(m, "ce_id") == f"publish:repair:{case['repair_id']}:escalated:{s}",
        )
        assert orjson.loads(message.value or b"")["missed"] == step


async def test_applications_the_law_does_not_allow_are_refused_with_the_reason(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    too_early = await repairable_penalty(ingest, publish, tokens, decided="2026-11-02")
    minor_fine = factories.penalty(fine=2.5)  # 轻微 under 36号令: never published, nothing to repair
    licence = factories.licensing()
    await report(ingest, tokens, minor_fine)
    await report(ingest, tokens, licence)
    await wait_shown(publish, public_id(licence), "the licence on the portal")

    early = await apply(publish, too_early)
    minor = await eventually(lambda: _answered(publish, minor_fine), what="the minor penalty to be known")
    licensed = await apply(publish, licence)

    assert (early.status_code, early.json()["errors"][0]["code"]) == (422, "too_early")
    assert "2027-02-03" in early.json()["errors"][0]["message"]  # the day after the 3-month minimum
    assert (minor.status_code, minor.json()["errors"][0]["code"]) == (422, "not_repairable")
    assert "轻微" in minor.json()["errors"][0]["message"]
    assert (licensed.status_code, licensed.json()["errors"][0]["code"]) == (422, "not_repairable")


async def _answered(publish: httpx.AsyncClient, record: dict[str, Any]) -> httpx.Response | None:
    response = await apply(publish, record)
    return None if response.status_code == 404 else response  # 404 until publish has consumed it


async def test_second_application_revoked_record_wrong_code_and_auditor_are_refused(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = await repairable_penalty(ingest, publish, tokens)
    first = await apply(publish, record)
    revoked = await repairable_penalty(ingest, publish, tokens)
    await report(
        ingest,
        tokens,
        amendment(
            revoked,
            "record_revocation",
            "2026-11-20",
            reason_kind="撤销",
            reason="撤销。",
            document_no="示市监撤〔2026〕1号",
        ),
    )
    await eventually(lambda: _gone(publish, revoked), what="the revoked record off the portal")

    second = await apply(publish, record)
    of_revoked = await apply(publish, revoked)
    wrong_code = await apply(publish, {**record, "subject": {**record["subject"], "code": factories.uscc()}})
    auditor = await apply(publish, record, **bearer(tokens, "AUDITOR"))
    status = await publish.get(f"/v1/repairs/{first.json()['repair']['repair_id']}", params={"code": factories.uscc()})

    assert (second.status_code, second.json()["errors"][0]["code"]) == (409, "in_progress")
    assert (of_revoked.status_code, of_revoked.json()["errors"][0]["code"]) == (409, "revoked")
    assert wrong_code.status_code == 404  # an anonymous caller cannot probe which records exist
    assert auditor.status_code == 403
    assert status.status_code == 404


async def test_departments_see_the_applications_they_must_decide(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = await repairable_penalty(ingest, publish, tokens)
    repair_id = (await apply(publish, record)).json()["repair"]["repair_id"]

    own = await publish.get("/v1/repairs", headers=bearer(tokens, "AMR"))
    other = await publish.get("/v1/repairs", headers=bearer(tokens, "TAX"))
    forbidden = await publish.get("/v1/repairs", params={"department": "AMR"}, headers=bearer(tokens, "TAX"))
    anonymous = await publish.get("/v1/repairs")

    mine = [c for c in own.json()["repairs"] if c["repair_id"] == repair_id]
    assert [(c["department"], c["accept_due"], c["decide_due"]) for c in mine] == [("AMR", "2026-11-25", "2026-12-01")]
    assert "contact" not in mine[0]
    assert repair_id not in {c["repair_id"] for c in other.json()["repairs"]}
    assert (forbidden.status_code, anonymous.status_code) == (403, 401)


async def test_ingest_accepts_a_repair_decision_only_for_the_departments_own_record(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = await repairable_penalty(ingest, publish, tokens)
    by_another = repair_decision(record, "REP-20261120-00000000", "准予修复")
    by_another["id"] = by_another["id"].replace("AMR-", "TAX-", 1)

    response = await ingest.post("/v1/records", json=by_another, headers=bearer(tokens, "TAX"))

    assert response.status_code == 422, response.text
    assert [(e["path"], e["code"]) for e in response.json()["errors"]] == [("/data/target_record_id", "unknown_target")]


async def test_a_revoked_approval_puts_the_record_back_on_the_portal(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = await repairable_penalty(ingest, publish, tokens)
    case = (await apply(publish, record)).json()["repair"]
    approval = repair_decision(record, case["repair_id"], "准予修复")
    await report(ingest, tokens, approval)
    await eventually(lambda: _gone(publish, record), what="the repaired record off the portal")

    withdrawn_approval = amendment(
        approval,
        "record_revocation",
        "2026-11-20",
        reason_kind="撤销",
        reason="误批，撤销修复决定。",
        document_no="示撤〔2026〕9号",
    )
    await report(ingest, tokens, withdrawn_approval)

    assert await wait_shown(publish, public_id(record), "the record back after the approval was revoked")


async def test_an_approval_before_the_minimum_period_withdraws_nothing(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    early = await repairable_penalty(ingest, publish, tokens, decided="2026-11-02")  # minimum until 2027-02-02
    await report(ingest, tokens, repair_decision(early, "REP-20261120-0EA51E00", "准予修复"))
    marker = await repairable_penalty(ingest, publish, tokens)  # reported after it: once shown, it was handled

    assert marker is not None
    assert await shown(publish, public_id(early)) is not None


async def test_only_penalties_and_serious_listings_can_be_repaired(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    licence = factories.licensing()
    await report(ingest, tokens, licence)

    response = await ingest.post(
        "/v1/records", json=repair_decision(licence, "REP-20261120-0B0B0B0B", "准予修复"), headers=bearer(tokens, "AMR")
    )

    assert response.status_code == 422, response.text
    assert [(e["path"], e["code"]) for e in response.json()["errors"]] == [("/data/target_record_id", "invalid_target")]
