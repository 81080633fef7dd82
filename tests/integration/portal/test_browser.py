"""The portal in headless Chromium (Debian ``chromium``, driven by Playwright): search a subject, open a
record, file an objection, see the state change after the department answers; apply for credit repair and
see the record leave the portal once the department approves. Screenshots of the main pages are saved to
``.run/artifacts/portal/``."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.async_api import Page, async_playwright

from tests import factories
from tests.helpers import eventually
from tests.integration.portal.support import published
from tests.integration.publish.support import public_id, repair_decision, report, verification, wait_shown
from tests.integration.publish.test_lists import list_record

ARTIFACTS = Path(__file__).resolve().parents[3] / ".run" / "artifacts" / "portal"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
async def portal_url(publish: httpx.AsyncClient) -> AsyncIterator[str]:
    """The in-process publish app (already started) served over real HTTP on a free port, in this loop."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = publish.app  # type: ignore[attr-defined]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    await eventually(started, timeout=10, what="the portal's HTTP server")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def test_subject_finds_its_record_objects_and_sees_the_answer(
    portal_url: str, ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = await published(ingest, publish, tokens)
    name, code = record["data"]["CF_XDR_MC"], record["subject"]["code"]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            await page.goto(portal_url + "/")
            await shot(page, "1-home")
            await page.get_by_label("名称或统一社会信用代码").fill(name[2:10])
            await page.get_by_role("button", name="查询").click()
            await page.get_by_role("cell", name=name).wait_for()
            await shot(page, "2-search-results")

            await page.get_by_role("link", name=code).click()
            await page.get_by_role("heading", name=name).wait_for()
            await shot(page, "3-subject")

            await page.get_by_role("link", name="查看详情").first.click()
            await page.get_by_text(public_id(record)).first.wait_for()
            assert "公示截止期" in await page.content()
            await shot(page, "4-record")

            await page.get_by_role("link", name="对本记录提出异议").click()
            await page.get_by_role("button", name="提交异议").click()  # empty form: told what is missing
            await page.get_by_text("请填写统一社会信用代码或身份证号码。").wait_for()
            await shot(page, "5-objection-form-errors")
            await page.get_by_label("统一社会信用代码或身份证号码").fill(code)
            await page.get_by_label("异议理由").fill("处罚已履行完毕，违法事实认定有误。")
            await page.get_by_label("联系方式").fill("13800000000")
            await page.get_by_role("button", name="提交异议").click()
            await page.get_by_role("status").get_by_text("核实中").wait_for()
            await shot(page, "6-case-verifying")
            objection_id = page.url.split("/objections/", 1)[1].split("?", 1)[0]
            case_url = page.url

            await page.get_by_role("link", name=public_id(record)).click()
            await page.get_by_text("异议处理中").first.wait_for()

            await report(ingest, tokens, verification(record, objection_id, "不属实", "2026-11-20"))

            async def answered() -> bool:
                await page.goto(case_url)
                return "异议不属实，维持原记录" in await page.content()

            await eventually(answered, what="the department's answer on the case page")
            await shot(page, "7-case-answered")

            await page.set_viewport_size({"width": 390, "height": 844})
            await page.goto(f"{portal_url}/records/{public_id(record)}")
            assert "异议处理中" not in await page.content()
            await shot(page, "8-record-mobile")
        finally:
            await browser.close()


async def test_subject_applies_for_repair_and_the_approved_record_leaves_the_portal(
    portal_url: str, ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = await published(ingest, publish, tokens, decision_date="2026-07-01")  # minimum ended 2026-10-01
    code = record["subject"]["code"]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            await page.goto(f"{portal_url}/records/{public_id(record)}")
            assert "可申请信用修复日期" in await page.content()
            await page.get_by_role("link", name="申请信用修复").click()
            await page.get_by_label("统一社会信用代码或身份证号码").fill(code)
            await page.get_by_label("法定义务履行情况").fill("罚款已缴清（缴款书号 5001012026071000123）。")
            await page.get_by_label("信用承诺").fill("短")
            await page.get_by_label("联系方式").fill("13800000000")
            await page.get_by_role("button", name="提交信用修复申请").click()
            await page.get_by_text("信用承诺至少 10 个字符。").wait_for()
            await shot(page, "9-repair-form-errors")
            await page.get_by_label("信用承诺").fill("本单位承诺已纠正失信行为，今后依法诚信经营，所提交材料真实有效。")
            await page.get_by_role("button", name="提交信用修复申请").click()
            await page.get_by_role("status").get_by_text("已提交，待受理").wait_for()
            await shot(page, "10-repair-submitted")
            repair_id = page.url.split("/repairs/", 1)[1].split("?", 1)[0]
            case_url = page.url

            await report(ingest, tokens, repair_decision(record, repair_id, "准予修复"))

            async def approved() -> bool:
                await page.goto(case_url)
                return "准予修复，已停止公示" in await page.content()

            await eventually(approved, what="the approval on the repair case page")
            await shot(page, "11-repair-approved")
            await page.goto(f"{portal_url}/records/{public_id(record)}")
            assert "没有公示中的这条记录" in await page.content()
        finally:
            await browser.close()


async def test_visitor_browses_a_list_and_finds_the_subjects_current_lists(
    portal_url: str, ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    subject = {"kind": "legal_person", "code": factories.uscc(), "name": "示范县浏览名单测试有限公司"}
    listing = list_record("serious_untrustworthy_listing", 1, "2026-11-18", subject=subject)
    await report(ingest, tokens, listing, "HOUSING")
    await wait_shown(publish, public_id(listing, "HOUSING"), "the 认定 on the portal")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            await page.goto(portal_url + "/")
            await page.get_by_role("navigation", name="主导航").get_by_role("link", name="名单公示").click()
            await page.get_by_role("heading", name="名单公示").wait_for()
            await shot(page, "11-lists")
            await page.get_by_role("link", name="严重失信主体名单").click()
            await page.get_by_role("heading", name="严重失信主体名单").wait_for()
            await page.get_by_role("cell", name=subject["name"]).first.wait_for()
            await shot(page, "12-list-serious")

            await page.get_by_role("link", name=subject["code"]).first.click()
            await page.get_by_role("heading", name="目前所在名单").wait_for()
            lists = page.locator("section", has=page.get_by_role("heading", name="目前所在名单"))
            await lists.get_by_role("cell", name="严重失信主体名单").wait_for()
            await shot(page, "13-subject-on-lists")
        finally:
            await browser.close()
