"""The department workbench through HTTP: accounts and their refusals, 待办 and answering an objection
through ingest, the penalty template and an uploaded sheet with its result sheet, bad sheets, preview,
the county's scorecard and the receipt trail."""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import timedelta
from typing import Any

import httpx
import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import text

from services.common.clock import FixedClock
from tests import factories
from tests.helpers import eventually, find_on_topic
from tests.integration.portal.support import published
from tests.integration.publish.support import bearer, public_id
from tests.integration.workbench.support import (
    blank_workbook,
    context,
    csrf_of,
    fill,
    form_post,
    penalty_row,
    sheet_rows,
    sign_in,
    upload,
)

PENALTY = "administrative_penalty"


async def trail(workbench: httpx.AsyncClient, **where: str) -> list[Any]:
    clause = " AND ".join(f"{k} = :{k}" for k in where)
    async with context(workbench).engine.connect() as conn:
        return list((await conn.execute(text(f"SELECT * FROM workbench.actions WHERE {clause}"), where)).all())


# -- accounts -------------------------------------------------------------------------------------------


async def test_sign_in_cookie_csrf_lockout_and_expiry(workbench: httpx.AsyncClient, at: FixedClock) -> None:
    client = httpx.AsyncClient(transport=workbench._transport, base_url="http://workbench")
    assert (await client.get("/")).headers["location"] == "/login"
    page = await client.get("/login")
    token = csrf_of(page.text)
    missing = await client.post("/login", data={"username": "amr_head", "password": "x" * 12})
    assert missing.status_code == 403
    assert "校验码" in missing.text
    wrong = await client.post("/login", data={"username": "amr_head", "password": "wrong-password", "csrf": token})
    assert wrong.status_code == 401
    assert "用户名或密码错误" in wrong.text
    outcomes = {r.outcome for r in await trail(workbench, username="amr_head", action="sign_in")}
    assert outcomes == {"csrf_refused", "wrong_password"}

    good = await sign_in(workbench, "amr_head")
    cookie = next(c for c in good.cookies.jar if c.name == "wb_session")
    assert cookie.has_nonstandard_attr("HttpOnly")
    response = await good.get("/")
    assert response.status_code == 200
    assert "待办" in response.text
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    no_csrf = await good.post("/report/administrative_penalty", data={"id": "AMR-X"})
    assert no_csrf.status_code == 403
    assert "校验码" in no_csrf.text
    assert await trail(workbench, username="amr_head", action="csrf")

    at.set(at.now() + timedelta(minutes=31))  # idle longer than the session lasts
    expired = await good.get("/")
    assert expired.status_code == 303
    assert expired.headers["location"] == "/login?expired=1"
    assert "会话已过期" in (await good.get("/login?expired=1")).text

    at.set(at.now() + timedelta(hours=1))
    lock = httpx.AsyncClient(transport=workbench._transport, base_url="http://workbench")
    ctx = context(workbench)
    from services.workbench import accounts

    await accounts.add_user(
        ctx.engine,
        username="locked_clerk",
        display_name="锁定测试",
        role=accounts.StaffRole.CLERK,
        department="AMR",
        password="right-password-1",
        now=ctx.now(),
    )
    token = csrf_of((await lock.get("/login")).text)
    for _ in range(ctx.settings.lockout_attempts):
        await lock.post("/login", data={"username": "locked_clerk", "password": "nope-nope-nope", "csrf": token})
    refused = await lock.post(
        "/login", data={"username": "locked_clerk", "password": "right-password-1", "csrf": token}
    )
    assert refused.status_code == 401
    assert "锁定" in refused.text
    assert await accounts.disable_user(ctx.engine, "locked_clerk", ctx.now())


# -- 待办 and answering an objection --------------------------------------------------------------------


async def test_clerk_answers_an_objection_from_todo_through_ingest(
    stack_env: dict[str, str],
    workbench: httpx.AsyncClient,
    ingest: httpx.AsyncClient,
    publish: httpx.AsyncClient,
    tokens: dict[str, str],
) -> None:
    record = await published(ingest, publish, tokens)
    filed = await publish.post(
        "/v1/objections",
        json={
            "record_id": public_id(record),
            "subject_code": record["subject"]["code"],
            "reason": "罚款已缴清，处罚内容有误。",
            "contact": "13800000000",
        },
    )
    assert filed.status_code == 201, filed.text
    objection_id = filed.json()["objection"]["objection_id"]

    clerk = await sign_in(workbench, "amr_clerk")
    todo = await clerk.get("/")
    assert objection_id in todo.text
    item = await clerk.get(f"/items/objection/{objection_id}")
    assert item.status_code == 200
    assert record["id"] in item.text

    other = await sign_in(workbench, "tax_clerk")
    assert (await other.get(f"/items/objection/{objection_id}")).status_code == 403
    forged = await form_post(
        other,
        "/report/objection_verification",
        "/report/objection_verification",
        {
            "objection_id": objection_id,
            "target_record_id": record["id"],
            "outcome": "属实",
            "explanation": "越权答复",
            "decision_date": "2026-11-20",
            "subject.kind": "法人及非法人组织",
            "subject.code": record["subject"]["code"],
            "subject.name": "x",
            "id": "TAX-WB-FORGED-1",
            "action": "submit",
        },
    )
    assert forged.status_code == 403
    assert "不能由本部门答复" in forged.text
    assert await trail(workbench, username="tax_clerk", action="answer_objection", outcome="forbidden")

    form = {
        "id": f"AMR-WB-{objection_id[-8:]}",
        "objection_id": objection_id,
        "target_record_id": record["id"],
        "outcome": "属实",
        "explanation": "经核实，处罚决定书记载有误，将更正。",
        "decision_date": "2026-11-20",
        "subject.kind": "法人及非法人组织",
        "subject.code": record["subject"]["code"],
        "subject.name": record["subject"]["name"],
        "action": "submit",
    }
    answered = await form_post(clerk, f"/items/objection/{objection_id}", "/report/objection_verification", form)
    assert answered.status_code == 200, answered.text
    assert "回执哈希" in answered.text
    (line,) = await trail(workbench, username="amr_clerk", record_id=form["id"])
    assert line.outcome == "accepted"
    assert len(line.receipt_hash) == 64

    async def answered_on_publish() -> bool:
        case = await publish.get(f"/v1/objections/{objection_id}", params={"code": record["subject"]["code"]})
        return case.json()["objection"]["outcome"] == "属实"

    await eventually(answered_on_publish, what="the objection answered on publish")
    # The access log names the user, not the workbench: publish's reads were made for amr_clerk.
    topic = stack_env["EXCHANGE_TOPIC_PREFIX"] + "audit.access"
    await find_on_topic(stack_env["KAFKA_BOOTSTRAP"], topic, lambda m: b":amr_clerk" in (m.value or b""))


async def test_repair_accepted_by_the_clerk_and_decided_by_the_head_from_todo(
    workbench: httpx.AsyncClient, ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    from tests.integration.publish.test_repairs import apply, repairable_penalty, wait_state

    record = await repairable_penalty(ingest, publish, tokens)
    case = (await apply(publish, record)).json()["repair"]
    repair_id = case["repair_id"]
    clerk = await sign_in(workbench, "amr_clerk")
    assert f"修复申请 {repair_id}" in (await clerk.get("/")).text
    item = f"/items/repair/{repair_id}"

    async def answer(client: httpx.AsyncClient, decision: str) -> httpx.Response:
        form = {
            "id": f"AMR-WB-RD-{uuid.uuid4().hex[:8]}",
            "repair_id": repair_id,
            "target_record_id": record["id"],
            "decision": decision,
            "explanation": "经审核申请材料和履行凭证，作出如下决定。",
            "decision_date": "2026-11-20",
            "subject.kind": "法人及非法人组织",
            "subject.code": record["subject"]["code"],
            "subject.name": record["subject"]["name"],
            "action": "submit",
        }
        return await form_post(client, item, "/report/repair_decision", form)

    accepted = await answer(clerk, "受理")
    assert accepted.status_code == 200, accepted.text
    assert "回执哈希" in accepted.text
    await wait_state(publish, case, "accepted")
    assert "信用修复决定" in (await clerk.get("/")).text

    refused = await answer(clerk, "准予修复")
    assert refused.status_code == 403
    assert "须由部门负责人作出" in refused.text
    assert await trail(workbench, username="amr_clerk", action="decide_repair", outcome="forbidden")

    head = await sign_in(workbench, "amr_head")
    approved = await answer(head, "准予修复")
    assert approved.status_code == 200, approved.text
    decided = await wait_state(publish, case, "approved")
    assert decided["decision"] == "准予修复"
    assert f"修复申请 {repair_id}" not in (await head.get("/")).text


async def test_sanction_instruction_answered_with_the_feedback_form_from_todo(
    workbench: httpx.AsyncClient, ingest: httpx.AsyncClient, sanctions: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    from tests.integration.sanctions.support import case_id_of, serious_listing, wait_case
    from tests.integration.sanctions.support import report as report_to

    code = factories.uscc()
    listing = serious_listing(code)
    case_id = case_id_of(listing)
    await report_to(ingest, tokens, listing)
    case = await wait_case(sanctions, tokens, code, lambda c: bool(c["instructions"]), "the case opened")
    (mine,) = [i for i in case["instructions"] if i["department"] == "AMR"]
    assert mine["feedback_state"] == "pending"
    measure = mine["unanswered_measures"][0]

    clerk = await sign_in(workbench, "amr_clerk")
    assert f"案件 {case_id}" in (await clerk.get("/")).text
    item = f"/items/case/{case_id}"
    page = (await clerk.get(item)).text
    assert mine["instruction_id"] in page
    assert measure in page
    form = {
        "id": f"AMR-WB-FB-{uuid.uuid4().hex[:8]}",
        "case_id": case_id,
        "instruction_id": mine["instruction_id"],
        "measure_id": measure,
        "action_taken": "已执行",
        "detail": "已在政府采购资格审查中限制其参与。",
        "decision_date": "2026-11-20",
        "subject.kind": "法人及非法人组织",
        "subject.code": code,
        "subject.name": listing["subject"]["name"],
        "action": "submit",
    }
    answered = await form_post(clerk, item, "/report/sanction_feedback", form)
    assert answered.status_code == 200, answered.text
    assert "回执哈希" in answered.text

    def moved(c: dict[str, Any]) -> bool:
        (now,) = [i for i in c["instructions"] if i["department"] == "AMR"]
        return now["feedback_state"] != "pending" and measure not in now["unanswered_measures"]

    await wait_case(sanctions, tokens, code, moved, "AMR's feedback applied")


async def test_form_errors_are_shown_at_their_fields(workbench: httpx.AsyncClient) -> None:
    clerk = await sign_in(workbench, "amr_clerk")
    record = factories.penalty()
    data = {
        **penalty_row(record),
        "CF_XDR_SHXYM": record["subject"]["code"][:-1] + "0",
        "CF_WSH": "",
        "action": "submit",
    }
    data["CF_CFLB"] = "罚款"
    response = await form_post(clerk, "/report/administrative_penalty", "/report/administrative_penalty", data)
    assert response.status_code == 422
    html = response.text
    assert 'id="e-CF_XDR_SHXYM"' in html
    assert 'id="e-CF_WSH"' in html

    # A rule of the catalogue's schema that ingest checks: the clerk reads it in Chinese at the field.
    too_long = {**penalty_row(record), "CF_XDR_MC": "某" * 201, "action": "submit"}
    response = await form_post(clerk, "/report/administrative_penalty", "/report/administrative_penalty", too_long)
    assert response.status_code == 422
    assert 'id="e-CF_XDR_MC"' in response.text
    assert "“行政相对人名称”的长度须在 1 至 200 个字符之间" in response.text
    assert "is too long" not in response.text


# -- spreadsheets -----------------------------------------------------------------------------------------


async def test_penalty_template_upload_result_sheet_and_idempotent_reupload(
    workbench: httpx.AsyncClient, ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    clerk = await sign_in(workbench, "amr_clerk")
    template = await clerk.get(f"/sheets/{PENALTY}.xlsx")
    assert template.status_code == 200
    wb = load_workbook(io.BytesIO(template.content))
    ws = wb.worksheets[0]
    headers = [c.value for c in ws[1]]
    assert "*行政相对人名称（CF_XDR_MC）" in headers
    assert "统一社会信用代码（CF_XDR_SHXYM）" in headers
    assert ws.data_validations.dataValidation, "enum columns have drop-down lists"
    assert str(ws.cell(row=2, column=1).value).startswith("示例")

    good = [factories.penalty() for _ in range(3)]
    bad_check = factories.penalty()
    bad_check["data"]["CF_XDR_SHXYM"] = bad_check["subject"]["code"][:-1] + (
        "0" if bad_check["subject"]["code"][-1] != "0" else "1"
    )
    missing = factories.penalty()
    rows = [penalty_row(r) for r in [*good, bad_check, missing]]
    del rows[-1]["CF_WFXW"]
    filled = fill(template.content, rows)
    response = await upload(clerk, PENALTY, "处罚.xlsx", filled)
    assert response.status_code == 200, response.text
    assert '<strong id="accepted">3</strong>' in response.text
    assert '<strong id="rejected">2</strong>' in response.text
    result_link = response.text.split('href="/uploads/')[1].split('"')[0]
    result = sheet_rows((await clerk.get(f"/uploads/{result_link}")).content)
    header = result[0]
    state, receipt, error = header.index("结果"), header.index("回执哈希"), header.index("错误说明")
    assert [r[state] for r in result[1:]] == ["已接收"] * 3 + ["退回"] * 2
    assert all(len(r[receipt]) == 64 for r in result[1:4])
    assert "CF_XDR_SHXYM" in result[4][error] or "统一社会信用代码" in result[4][error]
    assert "第 6 行" in result[5][error]
    assert "违法行为类型" in result[5][error] or "CF_WFXW" in result[5][error]

    again = await upload(clerk, PENALTY, "处罚.xlsx", filled)
    second = again.text.split('href="/uploads/')[1].split('"')[0]
    repeat = sheet_rows((await clerk.get(f"/uploads/{second}")).content)
    assert [r[receipt] for r in repeat[1:4]] == [r[receipt] for r in result[1:4]]
    assert all(r[error] == "重复上传，返回原回执" for r in repeat[1:4])
    # Each accepted row is on the trail under the clerk's name with its receipt hash.
    lines = await trail(workbench, record_id=good[0]["id"], outcome="accepted", action="upload:" + PENALTY)
    assert len(lines) == 2, "the upload and the re-upload"
    assert {(line.username, line.receipt_hash) for line in lines} == {("amr_clerk", result[1][receipt])}


def _xlsx(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


async def _template_with(clerk: httpx.AsyncClient, row: dict[str, Any]) -> bytes:
    template = (await clerk.get(f"/sheets/{PENALTY}.xlsx")).content
    return fill(template, [row])


async def test_bad_sheets_are_refused_in_chinese_naming_the_cell(workbench: httpx.AsyncClient) -> None:
    clerk = await sign_in(workbench, "amr_clerk")
    record = factories.penalty()
    row = penalty_row(record)

    async def refused(filename: str, content: bytes, *words: str, status: int = 422) -> None:
        response = await upload(clerk, PENALTY, filename, content)
        assert response.status_code == status, (filename, response.text[:500])
        for word in words:
            assert word in response.text, (filename, word)

    async def rejected_cell(content: bytes, column: str, word: str) -> None:
        response = await upload(clerk, PENALTY, "cells.xlsx", content)
        assert '<strong id="rejected">1</strong>' in response.text, response.text[:800]
        link = response.text.split('href="/uploads/')[1].split('"')[0]
        rows = sheet_rows((await clerk.get(f"/uploads/{link}")).content)
        message = rows[1][rows[0].index("错误说明")]
        assert "第 2 行" in message
        assert column in message
        assert word in message

    await refused("wrong.xlsx", _xlsx(blank_workbook(["名称", "金额"], [["x", 1]])), "表头与模板不一致", "缺少必填列")
    merged = load_workbook(io.BytesIO(await _template_with(clerk, row)))
    merged.worksheets[0].merge_cells("B2:C2")
    await refused("merged.xlsx", _xlsx(merged), "合并单元格", "B2:C2")
    formula = load_workbook(io.BytesIO(await _template_with(clerk, row)))
    formula.worksheets[0]["A2"] = '=CONCAT("AMR-", "1")'
    await refused("formula.xlsx", _xlsx(formula), "含公式", "A2")
    await refused("empty.xlsx", b"", "空的")
    await refused("macro.xlsm", b"PK\x03\x04", "含宏")
    with io.BytesIO() as buffer:
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("xl/vbaProject.bin", b"\x00")
        await refused("disguised.xlsx", buffer.getvalue(), "宏")
    huge = b"0" * (6 * 1024 * 1024)
    await refused("huge.xlsx", huge, "文件过大", status=413)

    await rejected_cell(await _template_with(clerk, {**row, "CF_JDRQ": "2026/11/02"}), "CF_JDRQ", "YYYY-MM-DD")
    await rejected_cell(
        await _template_with(clerk, {**row, "id": factories.record_id(), "CF_JDRQ": 46328}), "CF_JDRQ", "Excel 日期序号"
    )
    await rejected_cell(
        await _template_with(clerk, {**row, "id": factories.record_id(), "CF_NR_FK": "２.５"}), "CF_NR_FK", "全角"
    )
    await rejected_cell(
        await _template_with(clerk, {**row, "id": factories.record_id(), "CF_XDR_MC": "某公司 "}), "CF_XDR_MC", "空格"
    )
    # Nothing of a refused file was stored: the record of the merged/formula sheets was never reported.
    assert not await trail(workbench, record_id=row["id"], outcome="accepted")


async def test_csv_upload_and_command_line_import(
    workbench: httpx.AsyncClient, ingest_url: str, tokens: dict[str, str], tmp_path: Any
) -> None:
    import asyncio
    import csv
    import os
    import sys

    clerk = await sign_in(workbench, "amr_clerk")
    template = sheet_rows((await clerk.get(f"/sheets/{PENALTY}.xlsx")).content)
    header = [str(h) for h in template[0]]
    codes = [h.rsplit("（", 1)[1].rstrip("）") for h in header]
    records = [factories.penalty() for _ in range(2)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for r in records:
        row = penalty_row(r)
        writer.writerow([row.get(c, "") for c in codes])
    content = buffer.getvalue().encode("utf-8-sig")
    response = await upload(clerk, PENALTY, "处罚.csv", content, "text/csv")
    assert '<strong id="accepted">2</strong>' in response.text, response.text[:800]

    more = [factories.penalty() for _ in range(2)]
    path = tmp_path / "导入.xlsx"
    template_bytes = (await clerk.get(f"/sheets/{PENALTY}.xlsx")).content
    path.write_bytes(fill(template_bytes, [penalty_row(r) for r in more]))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "records",
        "import",
        str(path),
        "--department",
        "AMR",
        "--type",
        PENALTY,
        "--ingest-url",
        ingest_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "TOKEN_AMR": tokens["TOKEN_AMR"]},
    )
    out, err = await process.communicate()
    assert process.returncode == 0, (out.decode(), err.decode())
    assert "2 accepted, 0 rejected" in out.decode()
    result = sheet_rows((tmp_path / "导入.result.xlsx").read_bytes())
    assert [r[result[0].index("结果")] for r in result[1:]] == ["已接收", "已接收"]


# -- preview ----------------------------------------------------------------------------------------------


async def test_preview_shows_effects_and_stores_nothing(
    ingest: httpx.AsyncClient, workbench: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = factories.penalty(categories=("罚款", "吊销许可证件"), fine=80.0)
    response = await ingest.post("/v1/records:preview", json=record, headers=bearer(tokens, "AMR"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["stored"] is False
    assert body["validation"]["accepted"] is True
    assert body["disclosure"]["deadline"] == "2026-11-11"
    assert body["disclosure"]["rule_set"]
    assert body["severity"]["level"] in ("一般", "严重")
    assert body["grade"]["after"]
    assert "cases" in body["sanctions"]
    stored = await ingest.post("/v1/records", json=record, headers=bearer(tokens, "AMR"))
    assert stored.status_code == 202, "the preview stored nothing, so this is the first acceptance"

    broken = {**factories.penalty(), "decision_date": "2026-11-03"}
    invalid = (await ingest.post("/v1/records:preview", json=broken, headers=bearer(tokens, "AMR"))).json()
    assert invalid["validation"]["accepted"] is False
    assert any(e["code"] == "decision_date_mismatch" for e in invalid["validation"]["errors"])
    assert (await ingest.post("/v1/records:preview", json=record)).status_code == 401

    clerk = await sign_in(workbench, "amr_clerk")
    form = {**penalty_row(factories.penalty(fine=5.0)), "action": "preview"}
    page = await form_post(clerk, "/report/administrative_penalty", "/report/administrative_penalty", form)
    assert page.status_code == 200, page.text
    assert "公示截止期" in page.text
    assert "信用等级变化" in page.text


# -- the county's view ------------------------------------------------------------------------------------


async def test_county_scorecard_chart_export_and_receipts(workbench: httpx.AsyncClient) -> None:
    county = await sign_in(workbench, "county")
    page = await county.get("/scorecard", params={"month": "2026-11"})
    assert page.status_code == 200, page.text
    assert "<svg" in page.text
    assert "市场监管局" in page.text
    export = await county.get("/scorecard.xlsx", params={"month": "2026-11"})
    rows = sheet_rows(export.content)
    assert rows[0][:2] == ("部门代码", "部门") or list(rows[0][:2]) == ["部门代码", "部门"]
    assert any(r[0] == "AMR" for r in rows[1:])
    assert (await county.get("/report")).status_code == 403

    clerk = await sign_in(workbench, "amr_clerk")
    receipts = await clerk.get("/receipts.xlsx")
    lines = sheet_rows(receipts.content)
    assert lines[0][0] == "时间"
    assert all(r[1] == "AMR" for r in lines[1:])


@pytest.fixture(autouse=True)
def _reset_clock(at: FixedClock) -> FixedClock:
    return at
