"""In headless Chromium (Debian ``chromium``, driven by Playwright): a subject downloads its credit report
from the portal's subject page (下载信用报告), then checks it on the 报告核验 page — the untouched file
passes, an altered copy and a forged number do not. Screenshots in ``.run/artifacts/reports/``."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Page, async_playwright

from services.publish import portal
from tests.helpers import eventually
from tests.integration.portal.support import published

ARTIFACTS = Path(__file__).resolve().parents[3] / ".run" / "artifacts" / "reports"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


async def _serve(app: FastAPI) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    """An in-process app (already started) over real HTTP on a free port, in this loop."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    await eventually(started, timeout=10, what="an HTTP server")
    return server, task, f"http://127.0.0.1:{port}"


@pytest.fixture
async def urls(publish: httpx.AsyncClient, reports: httpx.AsyncClient) -> AsyncIterator[tuple[str, str]]:
    """(portal URL, reports URL), the portal's report buttons pointing at the reports server."""
    portal_server, portal_task, portal_url = await _serve(publish.app)  # type: ignore[attr-defined]
    reports_server, reports_task, reports_url = await _serve(reports.app)  # type: ignore[attr-defined]
    portal.link_reports(reports_url)
    reports.app.state.portal_url = portal_url + "/"  # type: ignore[attr-defined]
    yield portal_url, reports_url
    for server in (portal_server, reports_server):
        server.should_exit = True
    await asyncio.gather(portal_task, reports_task)


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def test_subject_downloads_its_report_from_the_portal_and_verifies_it(
    urls: tuple[str, str],
    ingest: httpx.AsyncClient,
    publish: httpx.AsyncClient,
    reports: httpx.AsyncClient,
    tokens: dict[str, str],
    tmp_path: Path,
) -> None:
    portal_url, reports_url = urls
    record = await published(ingest, publish, tokens)
    code, name = record["subject"]["code"], record["subject"]["name"]

    async def known() -> bool:
        return (await reports.get("/v1/reports/XYBG-00000000-0000000/verification")).status_code == 404 and (
            (await reports.post(f"/v1/subjects/{code}/reports", json={"formats": ["html"]})).status_code == 201
        )

    await eventually(known, what="the reports service to know the subject")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(
                viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True
            )
            await page.goto(f"{portal_url}/subjects/{code}")
            await page.get_by_role("heading", name=name).wait_for()
            await shot(page, "1-subject-with-report-buttons")

            async with page.expect_download() as waiting:
                await page.get_by_role("button", name="下载信用报告").click()
            download = await waiting.value
            saved = tmp_path / download.suggested_filename
            await download.save_as(saved)
            number = saved.stem
            assert number.startswith("XYBG-20261120-")
            assert saved.read_bytes().startswith(b"%PDF-")

            await page.get_by_role("link", name="报告核验").click()
            await page.get_by_role("heading", name="信用报告核验").wait_for()
            await page.get_by_label("报告编号").fill(number)
            await page.get_by_label("报告文件（可选）").set_input_files(str(saved))
            await page.get_by_role("button", name="核验").click()
            await page.get_by_role("status").get_by_text("报告真实有效，文件未被改动").wait_for()
            assert name in await page.content()
            await shot(page, "2-verified")

            altered = tmp_path / "altered.pdf"
            data = saved.read_bytes()
            middle = len(data) // 2
            altered.write_bytes(data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :])
            await page.get_by_label("报告编号").fill(number)
            await page.get_by_label("报告文件（可选）").set_input_files(str(altered))
            await page.get_by_role("button", name="核验").click()
            await page.get_by_role("status").get_by_text("核验未通过：文件不是本平台出具的原件").wait_for()
            await shot(page, "3-altered-file-refused")

            await page.goto(f"{reports_url}/verify?number=XYBG-20261120-9999999")
            await page.get_by_role("status").get_by_text("核验未通过：本平台未出具过该编号的报告").wait_for()
            await shot(page, "4-forged-number-refused")

            async with page.expect_download() as waiting:
                await page.goto(f"{portal_url}/subjects/{code}")
                await page.get_by_role("button", name="专项信用报告").click()
            special = await waiting.value
            assert (await special.path()).read_bytes().startswith(b"%PDF-")
        finally:
            await browser.close()
