"""The workbench in headless Chromium (Debian ``chromium``, driven by Playwright): a clerk signs in,
downloads the penalty template, fills it with openpyxl (valid rows, a wrong check character, a missing
required cell), uploads it and reads the result sheet; answers an objection from 待办 and sees the case
change on the public portal; previews a penalty; the county office opens the scorecard and exports it.
The clerk also draws a 双随机 plan and reads the patrol and proposal lists from the navigation (issue 22).
Screenshots are saved to ``.run/artifacts/workbench/``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from playwright.async_api import Page, async_playwright

from tests import factories
from tests.integration.portal.support import published
from tests.integration.publish.support import public_id
from tests.integration.workbench.conftest import serve_over_http
from tests.integration.workbench.support import PASSWORD, fill, penalty_row, sheet_rows

ARTIFACTS = Path(__file__).resolve().parents[3] / ".run" / "artifacts" / "workbench"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
async def portal_url(publish: httpx.AsyncClient) -> AsyncIterator[str]:
    async for url in serve_over_http(publish.app):  # type: ignore[attr-defined]
        yield url


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def sign_in(page: Page, base: str, username: str) -> None:
    await page.goto(base + "/login")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()


async def test_clerk_and_county_office_in_a_real_browser(
    workbench_url: str,
    portal_url: str,
    ingest: httpx.AsyncClient,
    publish: httpx.AsyncClient,
    tokens: dict[str, str],
    tmp_path: Path,
) -> None:
    record = await published(ingest, publish, tokens)
    filed = await publish.post(
        "/v1/objections",
        json={
            "record_id": public_id(record),
            "subject_code": record["subject"]["code"],
            "reason": "处罚已履行完毕，记录中的违法事实有误。",
            "contact": "13800000000",
        },
    )
    objection_id = filed.json()["objection"]["objection_id"]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(
                viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True
            )
            page = await context.new_page()
            await page.goto(workbench_url + "/login")
            await page.get_by_label("用户名").fill("amr_clerk")
            await page.get_by_label("密码").fill("not-the-password")
            await page.get_by_role("button", name="登录").click()
            await page.get_by_text("用户名或密码错误").wait_for()
            await shot(page, "1-sign-in-refused")
            await sign_in(page, workbench_url, "amr_clerk")
            await page.get_by_role("heading", name="待办").first.wait_for()
            await page.get_by_role("link", name=f"异议 {objection_id}").wait_for()
            await shot(page, "2-todo")

            # Supervision from the navigation (issue 22): a 双随机 plan drawn, the patrol list, the proposals.
            await page.get_by_role("link", name="抽查计划").click()
            await page.get_by_role("heading", name="双随机抽查计划").wait_for()
            await page.get_by_label("计划名称").fill("工作台抽查计划")
            await page.get_by_label("抽查事项").fill("食品经营许可情况检查")
            await page.get_by_label("开始日期").fill("2026-11-20")
            await page.get_by_label("结束日期").fill("2026-12-31")
            await page.get_by_label("执法检查人员（每行一人）").fill("张三\n李四")
            await page.get_by_role("button", name="抽取并公开").click()
            await page.get_by_role("heading", name="工作台抽查计划").wait_for()
            assert "随机种子" in await page.content()
            await page.get_by_role("link", name="巡查任务").click()
            await page.get_by_role("heading", name="巡查待办").wait_for()
            await page.get_by_role("link", name="惩戒建议").click()
            await page.get_by_role("heading", name="惩戒建议待办").wait_for()
            assert "平台不作认定" in await page.content()
            await shot(page, "2b-supervision-proposals")

            # The spreadsheet: template, fill, upload, result sheet.
            await page.get_by_role("link", name="报送").first.click()
            async with page.expect_download() as started:
                await page.get_by_role("link", name="下载 行政处罚 模板").click()
            template = Path(await (await started.value).path())
            good = [factories.penalty() for _ in range(2)]
            wrong = factories.penalty()
            code = wrong["subject"]["code"]
            wrong["data"]["CF_XDR_SHXYM"] = code[:-1] + ("0" if code[-1] != "0" else "1")
            missing = penalty_row(factories.penalty())
            del missing["CF_SY"]
            filled = tmp_path / "处罚填报.xlsx"
            rows = [*map(penalty_row, good), penalty_row(wrong), missing]
            await asyncio.to_thread(filled.write_bytes, fill(await asyncio.to_thread(template.read_bytes), rows))
            await page.get_by_label("记录类型").select_option("administrative_penalty")
            await page.get_by_label("填好的模板").set_input_files(str(filled))
            await page.get_by_role("button", name="上传并报送").click()
            await page.get_by_role("heading", name="上传结果").wait_for()
            assert await page.locator("#accepted").inner_text() == "2"
            assert await page.locator("#rejected").inner_text() == "2"
            await shot(page, "3-upload-result")
            async with page.expect_download() as started:
                await page.get_by_role("link", name="下载结果表").click()
            result = sheet_rows(await asyncio.to_thread(Path(await (await started.value).path()).read_bytes))
            states = [r[result[0].index("结果")] for r in result[1:]]
            assert states == ["已接收", "已接收", "退回", "退回"]

            # Answer the objection from 待办; the public portal shows the outcome.
            await page.get_by_role("link", name="待办").click()
            await page.get_by_role("link", name=f"异议 {objection_id}").click()
            await page.get_by_label("核实结论").select_option("属实")
            await page.get_by_label("核实说明").fill("经复核处罚决定书，异议属实，将更正记录。")
            await shot(page, "4-objection-answer-form")
            await page.get_by_role("button", name="提交报送").click()
            await page.get_by_text("回执哈希").wait_for()
            await shot(page, "5-objection-receipt")
            portal = await context.new_page()
            url = f"{portal_url}/objections/{objection_id}?{urlencode({'code': record['subject']['code']})}"

            async def shows_outcome() -> None:
                for _ in range(60):
                    await portal.goto(url)
                    if "属实" in await portal.content() and "核实" in await portal.content():
                        return
                    await portal.wait_for_timeout(250)
                raise AssertionError("the portal never showed the objection's outcome")

            await shows_outcome()
            await shot(portal, "6-portal-objection-answered")

            # Preview a penalty before reporting it.
            penalty = factories.penalty(fine=60.0)
            query = urlencode(penalty_row(penalty))
            await page.goto(f"{workbench_url}/report/administrative_penalty?{query}")
            await page.get_by_role("button", name="预览").click()
            await page.get_by_role("heading", name="预览：这条记录会引起什么（尚未保存）").wait_for()
            await shot(page, "7-preview")
            text = await page.content()
            assert "校验通过" in text, text[text.find("preview-h") : text.find("preview-h") + 3000]
            assert "公示截止期" in text
            assert "信用等级变化" in text
            assert "将启动的联合惩戒" in text

            # Conditional fields: 证件号码 appears only once 自然人 is chosen (CSS :has, no script), and the
            # validator still names it when it is left empty.
            organisation = penalty_row(factories.penalty())
            await page.goto(f"{workbench_url}/report/administrative_penalty?{urlencode(organisation)}")
            id_number = page.locator('.field[data-field="CF_XDR_ZJHM"]')
            assert await id_number.is_hidden()
            assert await page.locator('.field[data-field="CF_XDR_SHXYM"]').is_visible()
            await page.get_by_label("行政相对人类别").select_option("自然人")
            await id_number.wait_for(state="visible")
            await page.locator("#f-CF_XDR_ZJLX").wait_for(state="visible")
            await shot(page, "8-conditional-fields")
            await page.get_by_role("button", name="提交报送").click()
            await page.locator("#e-CF_XDR_ZJHM").wait_for(state="visible")  # the subject's code is its ID number
            await page.locator("#f-CF_XDR_ZJHM").fill(factories.citizen_id())
            await page.get_by_role("button", name="提交报送").click()
            await page.locator("#e-CF_XDR_ZJLX").wait_for(state="visible")  # ingest's validator: then-required
            assert await page.get_by_label("行政相对人类别").input_value() == "自然人"

            # The county office: scorecard with its chart, and the 通报 export.
            await page.get_by_role("button", name="退出").click()
            await sign_in(page, workbench_url, "county")
            await page.get_by_role("heading", name="部门信用工作考核").wait_for()
            assert await page.locator("svg.chart").count() == 1
            await shot(page, "9-county-scorecard")
            async with page.expect_download() as started:
                await page.get_by_role("link", name="导出通报表（.xlsx）").click()
            exported = sheet_rows(await asyncio.to_thread(Path(await (await started.value).path()).read_bytes))
            assert exported[0][1] == "部门"
        finally:
            await browser.close()
