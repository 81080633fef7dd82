"""Lists on the portal while in force, and every list change on outcomes.lists for the county platform
(issue 15; services/publish/rules/lists.py). Through ingest's and publish's public APIs and Kafka."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import httpx
import orjson

from deploy.stack import Stack
from services.common.clock import SHANGHAI, FixedClock
from tests import factories
from tests.helpers import eventually, find_on_topic, header
from tests.integration.publish.support import public_id, report, shown, wait_shown

LISTS_TOPIC = "outcomes.lists"


def list_record(
    record_type: str, index: int, decided: str, *, subject: dict[str, str] | None = None, **data: Any
) -> dict[str, Any]:
    """An example list record with a fresh id, the given subject (a fresh company by default) and date."""
    envelope = copy.deepcopy(factories.examples(record_type)[index])
    department = envelope["id"].split("-", 1)[0]
    envelope["id"] = factories.record_id(department)
    envelope["subject"] = subject or {
        "kind": "legal_person",
        "code": factories.uscc(),
        "name": "示范县测试名单有限公司",
    }
    envelope["decision_date"] = decided
    envelope["data"].update({"decision_date": decided, **data})
    envelope["data"] = {k: v for k, v in envelope["data"].items() if v is not None}
    return envelope


def department_of(record: dict[str, Any]) -> str:
    return str(record["id"].split("-", 1)[0])


async def on_lists_topic(stack: Stack, event_id: str) -> tuple[str | None, dict[str, Any]]:
    message = await find_on_topic(
        stack.bootstrap, f"{stack.config.topic_prefix}{LISTS_TOPIC}", lambda m: header(m, "ce_id") == event_id
    )
    assert message.key is not None
    data: dict[str, Any] = orjson.loads(message.value or b"")
    return header(message, "ce_type"), data


async def search(publish: httpx.AsyncClient, q: str, **params: Any) -> list[dict[str, Any]]:
    response = await publish.get("/v1/disclosures", params={"q": q, "limit": 100, **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_serious_listing_is_public_from_decision_to_removal_and_the_notice_never(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str], stack: Stack
) -> None:
    notice = list_record("serious_untrustworthy_listing", 0, "2026-09-01")
    subject = notice["subject"]
    listing = list_record("serious_untrustworthy_listing", 1, "2026-09-21", subject=subject)
    for record in (notice, listing):
        await report(ingest, tokens, record, "HOUSING")
    body = await wait_shown(publish, public_id(listing, "HOUSING"), "the 认定 on the portal")
    assert body["record_type_title"] == "严重失信主体名单"
    assert body["data"]["stage"] == "认定"
    assert body["listing"]["state"] == "in_force"
    found = await search(publish, subject["code"])
    assert [i["record_id"] for i in found] == [public_id(listing, "HOUSING")]  # the 拟列入告知 is not public
    assert await shown(publish, public_id(notice, "HOUSING")) is None
    by_type = await search(publish, subject["code"], record_type="serious_untrustworthy_listing")
    assert len(by_type) == 1

    entered_type, entered = await on_lists_topic(stack, f"publish:list:{public_id(listing, 'HOUSING')}:entered")
    assert entered_type == "cn.credit.list.entered"
    assert entered["action"] == "认定"
    assert entered["published"] is True

    removal = list_record(
        "serious_untrustworthy_listing", 1, "2026-11-19", subject=subject, stage="移出", removal_reason="信用修复"
    )
    await report(ingest, tokens, removal, "HOUSING")

    async def gone() -> bool:
        return await shown(publish, public_id(listing, "HOUSING")) is None

    await eventually(gone, what="the 认定 to leave the portal on its 移出")
    exit_id = f"publish:list:{public_id(listing, 'HOUSING')}:exited:2026-11-19:{removal['id']}"
    exited_type, exited = await on_lists_topic(stack, exit_id)
    assert exited_type == "cn.credit.list.exited"
    assert exited["listing"]["ended_by"] == removal["id"]
    assert exited["published"] is False


async def test_defaulter_person_shows_name_and_masked_id_and_a_company_only_its_legal_representative(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    person_code = factories.citizen_id("19850302")
    person = list_record(
        "judgment_defaulter_listing",
        1,
        "2026-11-02",
        subject={"kind": "natural_person", "code": person_code, "name": "欧阳测试"},
    )
    company = list_record(
        "judgment_defaulter_listing",
        0,
        "2026-11-03",
        related_persons=[
            {"role": "法定代表人", "name": "张伟", "id_type": "身份证", "id_number": "500101196802155715"},
            {"role": "实际控制人", "name": "李隐名", "id_type": "身份证", "id_number": "11010519491231002X"},
        ],
    )
    for record in (person, company):
        await report(ingest, tokens, record, "COURT")
    await wait_shown(publish, public_id(company, "COURT"), "the company's listing")
    await wait_shown(publish, public_id(person, "COURT"), "the person's listing")

    found = await search(publish, "欧阳测试")
    assert [i["record_id"] for i in found] == [public_id(person, "COURT")]
    assert found[0]["subject"]["name"] == "欧阳测试"  # as the court publishes it
    assert found[0]["subject"]["code"] == person_code[:6] + "********" + person_code[-4:]
    assert person_code not in orjson.dumps(found).decode()

    body = await shown(publish, public_id(company, "COURT"))
    assert body is not None
    assert body["data"]["related_persons"] == [{"role": "法定代表人", "name": "张伟"}]
    assert "李隐名" not in orjson.dumps(body).decode()
    assert "500101196802155715" not in orjson.dumps(body).decode()


async def test_watch_list_interview_and_abnormal_operation_changes_reach_the_county_platform(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str], stack: Stack
) -> None:
    watch = list_record("watch_list", 0, "2026-11-02")
    subject = watch["subject"]
    interview = list_record("supervision_interview", 0, "2026-11-05", subject=subject)
    abnormal = list_record("abnormal_operation_listing", 0, "2026-11-06", subject=subject)
    removal = list_record(
        "abnormal_operation_listing", 1, "2026-11-18", subject=subject, listing_record_id=abnormal["id"]
    )
    await report(ingest, tokens, watch, "AMR")
    await report(ingest, tokens, interview, "TAX")
    await report(ingest, tokens, abnormal, "AMR")
    await wait_shown(publish, public_id(abnormal), "the 经营异常名录 entry")
    await report(ingest, tokens, removal, "AMR")

    kind, entered = await on_lists_topic(stack, f"publish:list:{public_id(watch)}:entered")
    assert kind == "cn.credit.list.entered"
    assert entered["published"] is False  # the watch list is shared, never published
    assert entered["data"]["measures"].startswith("列为重点监管对象")
    assert await shown(publish, public_id(watch)) is None

    kind, recorded = await on_lists_topic(stack, f"publish:list:{public_id(interview, 'TAX')}:recorded")
    assert kind == "cn.credit.interview.recorded"
    assert recorded["action"] == "警示约谈"
    assert recorded["data"]["interviewees"][0]["name"] == "张伟"

    exit_id = f"publish:list:{public_id(abnormal)}:exited:2026-11-18:{removal['id']}"
    kind, exited = await on_lists_topic(stack, exit_id)
    assert kind == "cn.credit.list.exited"
    assert exited["listing"]["end_action"] == "移出"
    assert await shown(publish, public_id(abnormal)) is None


async def test_red_list_entry_expires_the_day_after_valid_until_and_the_county_learns_it(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str], stack: Stack, at: FixedClock
) -> None:
    entry = list_record("red_list", 0, "2026-11-10", valid_until="2026-12-31")
    await report(ingest, tokens, entry, "DRC")
    body = await wait_shown(publish, public_id(entry, "DRC"), "the red-list entry")
    assert body["publicity_until"] == "2026-12-31"

    at.set(datetime(2027, 1, 1, 0, 0, 1, tzinfo=SHANGHAI))

    async def gone() -> bool:
        return await shown(publish, public_id(entry, "DRC")) is None

    await eventually(gone, what="the red-list entry to leave on 2027-01-01")
    kind, expired = await on_lists_topic(stack, f"publish:list:{public_id(entry, 'DRC')}:expired:2027-01-01")
    assert kind == "cn.credit.list.expired"
    assert expired["listing"]["end"] == "expired"


async def test_a_commitment_is_public_until_fulfilled_and_its_fulfilment_is_published(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str], stack: Stack
) -> None:
    made = list_record("credit_commitment", 0, "2026-10-09")
    kept = list_record("credit_commitment", 0, "2026-11-16", subject=made["subject"], event="履行", text=None)
    await report(ingest, tokens, made, "AMR")
    body = await wait_shown(publish, public_id(made), "the commitment")
    assert body["data"]["text"].startswith("本单位承诺")
    await report(ingest, tokens, kept, "AMR")
    await wait_shown(publish, public_id(kept), "the fulfilment")

    async def closed() -> bool:
        return await shown(publish, public_id(made)) is None

    await eventually(closed, what="the open commitment to leave once fulfilled")
    kind, exited = await on_lists_topic(stack, f"publish:list:{public_id(made)}:exited:2026-11-16:{kept['id']}")
    assert kind == "cn.credit.list.exited"
    assert exited["listing"]["end_action"] == "履行"
