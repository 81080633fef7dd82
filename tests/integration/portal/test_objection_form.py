"""Filing an objection on the portal (DOMAIN §9): the form posts to the same logic as the API; the case page
follows the case from 核实中 to the provider's answer; the form is bounded, rate-limited and never echoes markup."""

from __future__ import annotations

import time
from typing import Any

import httpx

from services.publish.portal import RateLimit
from tests.helpers import eventually
from tests.integration.portal.support import case_of, file_on_portal, page, published
from tests.integration.publish.support import public_id, report, verification


async def test_filed_objection_shows_on_the_case_record_and_subject_pages_until_answered(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = await published(ingest, publish, tokens)
    form = await page(publish, "/objections/new", record=public_id(record))
    assert f'value="{public_id(record)}"' in form

    objection_id, code = case_of(await file_on_portal(publish, record))

    assert code == record["subject"]["code"]
    case = await page(publish, f"/objections/{objection_id}", code=code)
    assert "核实中" in case
    assert objection_id in case
    assert "2026-12-18" in case
    assert "13800000000" not in case  # the contact is never shown
    assert "异议处理中" in await page(publish, f"/records/{public_id(record)}")
    assert "异议处理中" in await page(publish, f"/subjects/{code}")
    assert "核实中" in await page(publish, "/cases", id=objection_id, code=code)

    await report(ingest, tokens, verification(record, objection_id, "不属实", "2026-11-20"))

    async def answered() -> str | None:
        html = await page(publish, f"/objections/{objection_id}", code=code)
        return html if "异议不属实，维持原记录" in html else None

    html = await eventually(answered, what="the answer on the case page")
    assert "经复核处罚决定书" in html
    assert "异议处理中" not in await page(publish, f"/records/{public_id(record)}")


async def test_case_page_needs_the_subjects_code(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = await published(ingest, publish, tokens)
    objection_id, _ = case_of(await file_on_portal(publish, record))

    html = await page(publish, f"/objections/{objection_id}", status=404, code="91500000MA0000000X")

    assert "没有找到该异议" in html
    assert "核实中" not in html


async def test_missing_fields_are_explained_and_input_is_echoed_escaped(publish: httpx.AsyncClient) -> None:
    response = await publish.post(
        "/objections/new", data={"record_id": "AMR.X-1", "subject_code": "", "reason": "<b>错误</b>", "contact": ""}
    )

    assert response.status_code == 422
    assert "请填写统一社会信用代码或身份证号码。" in response.text
    assert "请填写联系方式。" in response.text
    assert 'aria-invalid="true"' in response.text
    assert "<b>错误</b>" not in response.text
    assert "&lt;b&gt;错误&lt;/b&gt;" in response.text


async def test_wrong_code_is_only_not_found(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = await published(ingest, publish, tokens)

    response = await file_on_portal(publish, record, subject_code="91500000MA0000000X")

    assert response.status_code == 404
    assert "没有找到该主体的这条记录" in response.text


async def test_badly_formed_record_id_is_explained(publish: httpx.AsyncClient) -> None:
    response = await file_on_portal(publish, {"id": "x", "subject": {"code": "91500000MA0000000X"}}, record_id="nodot")

    assert response.status_code == 422
    assert "记录编号应为" in response.text


async def test_oversized_form_is_refused(publish: httpx.AsyncClient) -> None:
    record: dict[str, Any] = {"id": "AMR-X", "subject": {"code": "91500000MA0000000X"}}

    response = await file_on_portal(publish, record, reason="理" * 20_000)

    assert response.status_code == 413
    assert "内容过长" in response.text


async def test_form_with_more_fields_than_it_has_is_refused(publish: httpx.AsyncClient) -> None:
    response = await publish.post("/objections/new", data={f"f{i}": "x" for i in range(20)})

    assert response.status_code == 400
    assert "无法识别" in response.text


async def test_too_long_reason_is_explained(publish: httpx.AsyncClient) -> None:
    record: dict[str, Any] = {"id": "AMR-X", "subject": {"code": "91500000MA0000000X"}}

    response = await file_on_portal(publish, record, reason="理" * 4001)

    assert response.status_code == 422
    assert "异议理由不能超过 4000 个字符。" in response.text


async def test_submissions_are_rate_limited_per_client(publish: httpx.AsyncClient) -> None:
    app = publish.app  # type: ignore[attr-defined]
    app.state.portal_rate_limit = RateLimit(10, 60)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4000))
    record: dict[str, Any] = {"id": "AMR-X", "subject": {"code": "91500000MA0000000X"}}
    async with httpx.AsyncClient(transport=transport, base_url="http://publish") as client:
        statuses = [(await file_on_portal(client, record, contact="")).status_code for _ in range(11)]

    assert statuses == [422] * 10 + [429]
    assert (await file_on_portal(publish, record, contact="")).status_code == 422  # another client


def test_rate_limit_forgets_submissions_outside_its_window() -> None:
    limit = RateLimit(2, window=0.0001)
    assert limit.allow("a")
    assert limit.allow("a")
    time.sleep(0.001)
    assert limit.allow("a")
