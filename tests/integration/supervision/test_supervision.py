"""Issue 22 through the public API, the topics and the pages (headless Chromium): a plan drawn and
re-drawn by an auditor from the published event; a Ⅳ subject after a 吊销 on the patrol-due list with its
3-month deadline; a 告知承诺 past due and its 违诺; a 纳税 A reward expiring with its validity."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from playwright.async_api import async_playwright

from deploy.stack import Stack
from services.common.envelope import CloudEvent
from services.supervision.rules.sampling import assemble, redraw
from tests import factories
from tests.helpers import eventually, find_on_topic
from tests.integration.sanctions.support import bearer, report

ARTIFACTS = Path(__file__).resolve().parents[3] / ".run" / "artifacts" / "supervision"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def grade(code: str, new: str, level: str, effective: str = "2026-09-15") -> CloudEvent:
    return CloudEvent(
        id=f"grade:chongqing-amr:{code}:{effective}:{new}",
        source="/services/grading",
        type="cn.credit.grade.changed",
        subject=code,
        time=datetime.fromisoformat(f"{effective}T20:00:00+08:00"),
        data={
            "code": code,
            "old_grade": None,
            "new_grade": new,
            "rule_set": "chongqing-amr",
            "rule_set_version": "1",
            "effective_date": effective,
            "reason": "test",
            "subject_kind": "legal_person",
            "supervision_level": level,
        },
    )


async def send_grades(producer: AIOKafkaProducer, stack_env: dict[str, str], events: list[CloudEvent]) -> None:
    topic = stack_env["EXCHANGE_TOPIC_PREFIX"] + "outcomes.grades"
    for e in events:
        await producer.send(topic, value=e.kafka_value(), key=e.kafka_key(), headers=e.kafka_headers())
    await producer.flush()


def part_of(message: Any, plan_id: str) -> int | None:
    """The part number of a plan_drawn message of `plan_id` (None for any other message)."""
    if message.key != plan_id.encode():
        return None
    return int(orjson.loads(message.value or b"{}").get("part") or 1)


async def get(client: httpx.AsyncClient, tokens: dict[str, str], who: str, url: str, **params: str) -> Any:
    response = await client.get(url, params=params, headers=bearer(tokens, who))
    assert response.status_code == 200, response.text
    return response.json()


async def test_revoked_subject_is_due_for_a_recheck_and_a_plan_is_drawn_published_and_redrawn(
    supervision: httpx.AsyncClient,
    ingest: httpx.AsyncClient,
    tokens: dict[str, str],
    grades_producer: AIOKafkaProducer,
    stack: Stack,
    stack_env: dict[str, str],
) -> None:
    revocation = factories.penalty(
        categories=("吊销许可证件",), fine=None, decision_date="2026-09-15", name="示范县回查测试有限公司"
    )
    revoked = revocation["subject"]["code"]
    others = [factories.uscc() for _ in range(30)]
    await report(ingest, tokens, revocation)
    await send_grades(grades_producer, stack_env, [grade(revoked, "D", "IV"), *(grade(c, "B", "II") for c in others)])

    async def rechecked() -> Any:
        body = await get(supervision, tokens, "AMR", "/v1/supervision/patrol-due")
        return [i for i in body["items"] if i["code"] == revoked and i["kind"] == "revocation_recheck"]

    (item,) = await eventually(rechecked, what="the re-check on the patrol-due list")
    assert (item["due"], item["level"], item["overdue"], item["record_ids"]) == (
        "2026-12-15",
        "IV",
        False,
        [revocation["id"]],
    )
    other_dept = await get(supervision, tokens, "TAX", "/v1/supervision/patrol-due")
    assert revoked not in {i["code"] for i in other_dept["items"]}

    async def graded() -> bool:
        body = await get(supervision, tokens, "AMR", "/v1/supervision/patrol-due")
        return len({i["code"] for i in body["items"] if i["code"] in others}) == len(others)

    await eventually(graded, what="every graded subject's patrol")
    plan_body = {
        "plan_name": "2026 年第四季度双随机抽查",
        "matter": "食品经营许可情况检查",
        "period_from": "2026-11-20",
        "period_to": "2026-12-31",
        "levels": ["II", "IV"],
        "inspectors": ["张三", "李四", "王五"],
        "seed": "issue-22-audit-seed",
    }
    refused = await supervision.post("/v1/supervision/plans", json=plan_body, headers=bearer(tokens, "TAX"))
    assert refused.status_code == 403
    created = await supervision.post("/v1/supervision/plans", json=plan_body, headers=bearer(tokens, "AMR"))
    assert created.status_code == 201, created.text
    plan = created.json()
    drawn = {d["code"] for d in plan["drawn"]}
    assert revoked in drawn  # D/IV: ratio 1.0
    assert plan["sizes"]["B/II"] == -(-plan["ratios"]["B/II"] * len(plan["population"]["B/II"]) // 1)

    topic = stack_env["EXCHANGE_TOPIC_PREFIX"] + "outcomes.supervision"
    assert plan["parts"] > 1  # the fixture's small parts: published as a large plan is
    parts = [
        orjson.loads(
            (await find_on_topic(stack.bootstrap, topic, lambda m, n=n: part_of(m, plan["plan_id"]) == n)).value
            or b"{}"
        )
        for n in range(1, plan["parts"] + 1)
    ]
    published = assemble(parts)
    assert published["population"] == plan["population"]
    assert redraw(published) == plan["drawn"]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "supervision", "redraw", "--plan", plan["plan_id"], "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert orjson.loads(out)[0]["matches"] is True
    audit = stack_env["EXCHANGE_TOPIC_PREFIX"] + "audit.access"
    logged = await find_on_topic(stack.bootstrap, audit, lambda m: m.key == plan["plan_id"].encode())
    assert orjson.loads(logged.value or b"{}")["seed"] == "issue-22-audit-seed"

    result = factories.fresh(factories.examples("inspection_result")[0])
    result["subject"] = dict(revocation["subject"])
    result["data"] |= {"task_no": plan["plan_id"], "inspected_on": "2026-11-18", "decision_date": "2026-11-19"}
    result["decision_date"] = "2026-11-19"
    await report(ingest, tokens, result)

    async def done() -> Any:
        detail = await get(supervision, tokens, "AMR", f"/v1/supervision/plans/{plan['plan_id']}")
        return [s for s in detail["subjects"] if s["code"] == revoked and s["state"] == "done"]

    (entry,) = await eventually(done, what="the drawn subject's result")
    assert entry["result_entered_late"] is False
    assert not await rechecked()  # the same inspection closed the re-check

    # Entered on Thursday 11-19 for an inspection of Friday 11-13: after the 2 working days (000 L310).
    other = next(d["code"] for d in plan["drawn"] if d["code"] != revoked)
    late = factories.fresh(factories.examples("inspection_result")[0])
    late["subject"] = {"kind": "legal_person", "code": other, "name": "示范县迟录测试有限公司"}
    late["data"] |= {"task_no": plan["plan_id"], "inspected_on": "2026-11-13", "decision_date": "2026-11-19"}
    late["decision_date"] = "2026-11-19"
    await report(ingest, tokens, late)

    async def entered_late() -> Any:
        detail = await get(supervision, tokens, "AMR", f"/v1/supervision/plans/{plan['plan_id']}")
        return [s for s in detail["subjects"] if s["code"] == other and s["state"] == "done"]

    (entry,) = await eventually(entered_late, what="the result entered late")
    assert entry["result_entered_late"] is True


async def test_commitment_past_due_alerts_and_a_breach_opens_the_named_measure(
    supervision: httpx.AsyncClient,
    ingest: httpx.AsyncClient,
    tokens: dict[str, str],
    stack: Stack,
    stack_env: dict[str, str],
) -> None:
    made = factories.fresh(factories.examples("credit_commitment")[0])
    code = factories.uscc()
    made["subject"]["code"] = code
    await report(ingest, tokens, made)

    async def alert() -> Any:
        body = await get(supervision, tokens, "AMR", "/v1/supervision/patrol-due")
        return [i for i in body["items"] if i["code"] == code and i["kind"] == "commitment_due"]

    (due,) = await eventually(alert, what="the overdue commitment")
    assert (due["due"], due["overdue"]) == ("2026-05-20", True)
    overdue = await get(supervision, tokens, "COUNTY", "/v1/supervision/overdue")
    assert overdue["departments"]["AMR"]["commitment_due"] >= 1
    topic = stack_env["EXCHANGE_TOPIC_PREFIX"] + "outcomes.supervision"
    message = await find_on_topic(stack.bootstrap, topic, lambda m: m.key == code.encode())
    announced = orjson.loads(message.value or b"{}")
    assert (announced["event"], announced["department"], announced["due"], announced["record_id"]) == (
        "commitment_overdue",
        "AMR",
        "2026-05-20",
        made["id"],
    )
    assert dict(message.headers)["ce_type"] == b"cn.credit.supervision.commitment_overdue"

    broken = factories.fresh(made)
    broken["decision_date"] = "2026-06-01"
    broken["data"] |= {"event": "违诺", "breach_details": "逾期未补交容缺材料", "decision_date": "2026-06-01"}
    for key in ("text", "fulfilment_deadline"):
        broken["data"].pop(key, None)
    await report(ingest, tokens, broken)

    async def breach() -> Any:
        body = await get(supervision, tokens, "AMR", "/v1/supervision/proposals")
        return [p for p in body["proposals"] if p["code"] == code and p["kind"] == "commitment_breach"]

    (proposal,) = await eventually(breach, what="the breach in the 待办")
    assert proposal["details"]["measures"] == ["撤销食品经营许可", "三年内不适用容缺受理"]
    assert proposal["details"]["document_missing"] is True  # a v1 违诺 names no document (001 L646)
    assert not await alert()


async def test_a_verification_closes_a_commitment_and_a_documented_breach_opens_the_measure(
    supervision: httpx.AsyncClient, ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    made = factories.fresh(factories.examples("credit_commitment")[0])
    code = made["subject"]["code"] = factories.uscc()
    made["data"]["commitment_no"] = f"示市监承诺〔2026〕{code[-6:]}"
    made["data"]["fulfilment_deadline"] = "2026-12-31"
    failed = factories.fresh(factories.examples("commitment_verification")[1])
    failed["subject"]["code"] = code
    failed["data"]["commitment_no"] = made["data"]["commitment_no"]
    for record in (made, failed):
        await report(ingest, tokens, record)

    async def proposals(kind: str) -> Any:
        body = await get(supervision, tokens, "AMR", "/v1/supervision/proposals")
        return [p for p in body["proposals"] if p["code"] == code and p["kind"] == kind]

    (pending,) = await eventually(lambda: proposals("commitment_unfulfilled"), what="the failed 核查 in the 待办")
    assert pending["evidence"] == [failed["id"], made["id"]]
    breach = factories.fresh(factories.examples("credit_commitment")[2])
    breach["subject"]["code"] = code
    breach["data"]["commitment_no"] = made["data"]["commitment_no"]
    breach["decision_date"] = breach["data"]["decision_date"] = "2026-07-02"  # catalogue v2 from 2026-07-01
    await report(ingest, tokens, breach)
    (opened,) = await eventually(lambda: proposals("commitment_breach"), what="the documented breach")
    assert opened["details"]["document_no"] == "示市监撤许〔2026〕3号"
    assert (opened["details"]["document_missing"], opened["details"]["measures"][0]) == (False, "撤销食品经营许可")
    assert await proposals("commitment_unfulfilled") == []


async def test_a_tax_a_evaluation_gives_the_reward_until_its_validity_ends(
    supervision: httpx.AsyncClient, ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    evaluation = factories.fresh(factories.examples("credit_evaluation")[0], "TAX")
    code = factories.uscc()
    evaluation["subject"]["code"] = code
    await report(ingest, tokens, evaluation)

    async def rewards(on: str) -> Any:
        body = await get(supervision, tokens, "TAX", f"/v1/subjects/{code}/evaluations", on=on)
        return [c for c in body["consequences"] if c["kind"] == "reward"]

    (reward,) = await eventually(lambda: rewards("2027-03-31"), what="the 纳税 A reward")
    assert reward["text"].startswith("主动向社会公告年度A级纳税人名单")  # the green channel needs 3 A years (002 L166)
    assert reward["valid_until"] == "2027-03-31"
    assert await rewards("2027-04-01") == []
    composite = await get(supervision, tokens, "COUNTY", f"/v1/subjects/{code}/composite", on="2026-06-01")
    assert (composite["score"], composite["band"]) == (85, "良")  # 80 + 纳税 A 5 (county-composite.yaml)
    assert [i["record_id"] for i in composite["items"]] == [evaluation["id"]]


async def test_twelve_points_put_a_blacklist_proposal_in_the_deciding_departments_todo(
    supervision: httpx.AsyncClient, ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = factories.uscc()
    for day in ("2026-03-02", "2026-05-10"):  # 6 + 6 points within one 3-year cycle (002 L175)
        deduction = factories.fresh(factories.examples("credit_evaluation")[1], "AMR")
        deduction["subject"]["code"] = code
        deduction["decision_date"] = deduction["data"]["decision_date"] = day
        await report(ingest, tokens, deduction)

    async def proposed() -> Any:
        body = await get(supervision, tokens, "AMR", "/v1/supervision/proposals")
        return [p for p in body["proposals"] if p["code"] == code and p["kind"] == "points_blacklist"]

    (proposal,) = await eventually(proposed, what="the 12-point blacklist proposal")
    assert (proposal["candidate_from"], proposal["details"]["points"]) == ("2026-05-10", 12)
    assert len(proposal["evidence"]) == 2
    tax = await get(supervision, tokens, "TAX", "/v1/supervision/proposals")
    assert code not in {p["code"] for p in tax["proposals"]}  # the deciding department's 待办 only


async def test_code_conflicts_are_warnings_for_the_registration_authority_only(
    supervision: httpx.AsyncClient, ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    penalty = factories.penalty(name="示范县重错码测试有限公司")
    foreign = factories.fresh(penalty)
    foreign["subject"]["name"] = foreign["data"]["CF_XDR_MC"] = "示范县另一名称有限公司"
    await report(ingest, tokens, penalty)
    await report(ingest, tokens, foreign)

    async def flagged() -> Any:
        body = await get(supervision, tokens, "AMR", "/v1/supervision/code-conflicts")
        return [w for w in body["warnings"] if w["key"] == penalty["subject"]["code"]]

    (warning,) = await eventually(flagged, what="the 重错码 warning")
    assert warning["kind"] == "one_code_many_names"
    assert sorted(warning["record_ids"]) == sorted([penalty["id"], foreign["id"]])
    refused = await supervision.get("/v1/supervision/code-conflicts", headers=bearer(tokens, "TAX"))
    assert refused.status_code == 403


@pytest.fixture
async def served(supervision: httpx.AsyncClient) -> AsyncIterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = supervision.app  # type: ignore[attr-defined]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    await eventually(started, timeout=10, what="the supervision HTTP server")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def test_the_department_plans_and_reads_its_lists_in_the_browser(
    served: str, supervision: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(locale="zh-CN")
            await page.goto(served + "/supervision/plans")
            await page.get_by_label("访问令牌").fill(tokens["TOKEN_AMR"])
            await page.get_by_role("button", name="登录").click()
            await page.get_by_role("heading", name="双随机抽查计划").wait_for()
            await page.get_by_label("计划名称").fill("浏览器测试抽查计划")
            await page.get_by_label("抽查事项").fill("年度报告公示信息检查")
            await page.get_by_label("开始日期").fill("2026-11-20")
            await page.get_by_label("结束日期").fill("2026-12-31")
            await page.get_by_label("执法检查人员（每行一人）").fill("张三\n李四")
            await page.get_by_role("button", name="抽取并公开").click()
            await page.get_by_role("heading", name="浏览器测试抽查计划").wait_for()
            assert "随机种子" in await page.content()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "plan.png"), full_page=True)
            await page.get_by_role("link", name="巡查待办").click()
            await page.get_by_role("heading", name="巡查待办").wait_for()
            await page.get_by_role("link", name="惩戒建议待办").click()
            await page.get_by_role("heading", name="惩戒建议待办").wait_for()
            assert "平台不作认定" in await page.content()
            await page.screenshot(path=str(ARTIFACTS / "proposals.png"), full_page=True)
        finally:
            await browser.close()
