"""Objections (异议, DOMAIN §9): filed on the portal, shown as 异议处理中, answered by the provider's
objection_verification record, escalated when the answer is late; the sanctions service hears of each."""

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
from tests.integration.publish.support import amendment, bearer, public_id, report, shown, verification, wait_shown

GENERAL_FINE = 20.0


async def published_penalty(ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]) -> Any:
    record = factories.penalty(fine=GENERAL_FINE)
    await report(ingest, tokens, record)
    await wait_shown(publish, public_id(record), "the penalty on the portal")
    return record


async def file(publish: httpx.AsyncClient, record: dict[str, Any], **headers: str) -> httpx.Response:
    body = {
        "record_id": public_id(record),
        "subject_code": record["subject"]["code"],
        "reason": "处罚决定已履行完毕，且违法事实认定有误。",
        "contact": "13800000000",
    }
    return await publish.post("/v1/objections", json=body, headers=headers)


async def case_state(publish: httpx.AsyncClient, objection_id: str, code: str) -> dict[str, Any]:
    response = await publish.get(f"/v1/objections/{objection_id}", params={"code": code})
    assert response.status_code == 200, response.text
    case: dict[str, Any] = response.json()["objection"]
    return case


async def test_objection_marks_the_record_pending_and_tells_the_sanctions_service(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str], stack: Stack
) -> None:
    record = await published_penalty(ingest, publish, tokens)

    response = await file(publish, record)

    assert response.status_code == 201, response.text
    case = response.json()["objection"]
    assert re.fullmatch(r"OBJ-20261120-[0-9A-F]{8}", case["objection_id"])
    assert (case["state"], case["state_label"], case["raised_by"]) == ("verifying", "核实中", "subject")
    assert (case["due"], case["provisional"]) == ("2026-12-18", False)  # 20 working days after 2026-11-20
    assert "contact" not in case
    shown_now = await shown(publish, public_id(record))
    assert shown_now is not None
    assert (shown_now["objection_pending"], shown_now["status"]) == (True, "异议处理中")
    topic = f"{stack.config.topic_prefix}outcomes.objections"
    message = await find_on_topic(
        stack.bootstrap, topic, lambda m: header(m, "ce_id") == f"publish:objection:{case['objection_id']}:filed"
    )
    assert header(message, "ce_type") == "cn.credit.objection.filed"
    assert message.key == record["subject"]["code"].encode()
    data = orjson.loads(message.value or b"")
    assert data == {
        "objection_id": case["objection_id"],
        "department": "AMR",
        "record_id": record["id"],
        "subject_code": record["subject"]["code"],
        "filed_at": "2026-11-20T15:00:00+08:00",
    }


async def test_rejected_objection_clears_the_pending_flag(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = await published_penalty(ingest, publish, tokens)
    case = (await file(publish, record)).json()["objection"]

    await report(ingest, tokens, verification(record, case["objection_id"], "不属实", "2026-11-20"))

    async def answered() -> dict[str, Any] | None:
        state = await case_state(publish, case["objection_id"], record["subject"]["code"])
        return state if state["state"] == "rejected" else None

    state = await eventually(answered, what="the objection to be answered")
    assert (state["outcome"], state["state_label"]) == ("不属实", "异议不属实，维持原记录")
    shown_now = await shown(publish, public_id(record))
    assert shown_now is not None
    assert (shown_now["objection_pending"], shown_now["status"]) == (False, "公示中")


async def test_upheld_objection_keeps_the_record_pending_until_the_provider_revokes_it(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = await published_penalty(ingest, publish, tokens)
    code = record["subject"]["code"]
    case = (await file(publish, record, **bearer(tokens, "TAX"))).json()["objection"]
    assert case["raised_by"] == "TAX"

    await report(ingest, tokens, verification(record, case["objection_id"], "属实", "2026-11-20"))

    async def upheld() -> bool:
        return bool((await case_state(publish, case["objection_id"], code))["state"] == "upheld")

    await eventually(upheld, what="the objection to be upheld")
    still = await shown(publish, public_id(record))
    assert still is not None
    assert still["objection_pending"] is True

    revocation = amendment(
        record,
        "record_revocation",
        "2026-11-20",
        reason_kind="异议核实",
        reason="异议属实，撤销。",
        objection_id=case["objection_id"],
    )
    await report(ingest, tokens, revocation)

    async def resolved() -> bool:
        return bool((await case_state(publish, case["objection_id"], code))["state"] == "resolved")

    await eventually(resolved, what="the objection to be resolved by the revocation")
    assert await shown(publish, public_id(record)) is None


async def test_unanswered_objection_is_escalated_after_its_20_working_days(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str], at: FixedClock, stack: Stack
) -> None:
    record = await published_penalty(ingest, publish, tokens)
    case = (await file(publish, record)).json()["objection"]

    at.set(datetime(2026, 12, 19, 9, 0, tzinfo=SHANGHAI))  # the day after the due date 2026-12-18

    async def escalated() -> dict[str, Any] | None:
        state = await case_state(publish, case["objection_id"], record["subject"]["code"])
        return state if state["state"] == "escalated" else None

    state = await eventually(escalated, what="the late objection to be escalated")
    assert state["escalated_at"] == "2026-12-19T09:00:00+08:00"
    topic = f"{stack.config.topic_prefix}outcomes.objections"
    message = await find_on_topic(
        stack.bootstrap, topic, lambda m: header(m, "ce_id") == f"publish:objection:{case['objection_id']}:escalated"
    )
    assert orjson.loads(message.value or b"")["due"] == "2026-12-18"


async def test_objection_state_is_shown_only_with_the_subjects_code(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = await published_penalty(ingest, publish, tokens)
    case = (await file(publish, record)).json()["objection"]

    response = await publish.get(f"/v1/objections/{case['objection_id']}", params={"code": factories.uscc()})

    assert response.status_code == 404


async def test_objection_to_another_subjects_record_is_refused(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = await published_penalty(ingest, publish, tokens)
    wrong = {**record, "subject": {**record["subject"], "code": factories.uscc()}}

    anonymous = await file(publish, wrong)
    department = await file(publish, wrong, **bearer(tokens, "TAX"))
    unknown = await file(publish, {**record, "id": "AMR-T-does-not-exist"})
    auditor = await file(publish, record, **bearer(tokens, "AUDITOR"))

    assert anonymous.status_code == 404  # an anonymous caller cannot probe which records exist
    assert department.status_code == 422
    assert department.json()["errors"][0]["path"] == "/subject_code"
    assert unknown.status_code == 404
    assert auditor.status_code == 403
