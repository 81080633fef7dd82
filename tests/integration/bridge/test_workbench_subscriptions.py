"""The delivery log in the workbench (订阅推送): a department's staff see their department's subscriptions
and each delivery's attempts, status and last error, read through the bridge's API acting for the user;
the county's staff see the county's; another party's subscription is refused in Chinese. Once over the
page's HTML, once in headless Chromium (Debian ``chromium`` driven by Playwright, as the workbench's and
the portal's browser tests; screenshots in ``.run/artifacts/workbench/``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, async_playwright

from services.common.clock import FixedClock
from services.common.outcomes import outcome_event
from services.workbench import accounts
from services.workbench.accounts import StaffRole
from tests.helpers import eventually, served_in_process
from tests.integration.bridge.conftest import Outcomes, bearer, on_loopback, subject_code
from tests.integration.bridge.test_webhooks import Receiver, deliveries, subscribe
from tests.integration.workbench.support import PASSWORD, sign_in

ARTIFACTS = Path(__file__).resolve().parents[3] / ".run" / "artifacts" / "workbench"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
async def workbench(
    stack_env: dict[str, str], clock: FixedClock, tokens: dict[str, str], bridge: httpx.AsyncClient
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    from services.workbench.app import create_app
    from services.workbench.settings import WorkbenchSettings

    settings = WorkbenchSettings(token=tokens["TOKEN_WORKBENCH"])
    # Only the bridge is read by this page; the other clients are never called here.
    clients = {name: bridge for name in ("ingest", "publish", "sanctions", "grading", "supervision", "bridge")}
    app = create_app(settings, clock=clock, clients=clients)
    suffix = uuid.uuid4().hex[:6]
    users = {"amr": f"sub_amr_{suffix}", "county": f"sub_county_{suffix}"}
    async with served_in_process(app, "workbench") as client:
        ctx = app.state.workbench
        for key, department, role in (("amr", "AMR", StaffRole.CLERK), ("county", None, StaffRole.COUNTY)):
            await accounts.add_user(
                ctx.engine,
                username=users[key],
                display_name="订阅查看员",
                role=role,
                department=department,
                password=PASSWORD,
                now=ctx.now(),
            )
        yield client, users


def objection_filed(code: str, department: str = "AMR") -> Any:
    return outcome_event(
        service="publish",
        kind="objection.filed",
        subject=code,
        event_id=f"publish:objection:{uuid.uuid4().hex[:10]}:filed",
        time=datetime.now(UTC),
        data={"objection_id": "OBJ-1", "department": department, "record_id": "r-1", "subject_code": code},
    )


async def test_the_workbench_shows_a_departments_subscriptions_and_their_delivery_log(
    workbench: tuple[httpx.AsyncClient, dict[str, str]],
    bridge: httpx.AsyncClient,
    tokens: dict[str, str],
    outcomes: Outcomes,
) -> None:
    client, users = workbench
    failing = Receiver(fail=10**6, status=500)
    async with on_loopback(failing.app) as base:
        created = await bridge.post(
            "/v1/subscriptions",
            json={"url": base + "/hook", "types": ["cn.credit.objection.filed"]},
            headers=bearer(tokens, "AMR"),
        )
        assert created.status_code == 201, created.text
        amr_sub = created.json()
        county_sub = await subscribe(bridge, tokens, base + "/county-hook", ["grade"])
        code = subject_code()
        await outcomes.send("outcomes.objections", [objection_filed(code)])

        async def failed_twice() -> list[dict[str, Any]] | None:
            response = await bridge.get(f"/v1/subscriptions/{amr_sub['id']}/deliveries", headers=bearer(tokens, "AMR"))
            rows = [d for d in response.json()["deliveries"] if d["attempts"] >= 2]
            return rows or None

        await eventually(failed_twice, what="two failed attempts in the AMR subscription's log")

        clerk = await sign_in(client, users["amr"])
        page = await clerk.get("/subscriptions")
        assert page.status_code == 200, page.text
        assert amr_sub["id"] in page.text
        assert county_sub["id"] not in page.text  # the county's subscription is not the department's
        assert 'lang="zh' in page.text

        log = await clerk.get("/subscriptions", params={"sub": amr_sub["id"]})
        assert log.status_code == 200, log.text
        assert f"投递记录：{amr_sub['id']}" in log.text
        assert code in log.text
        assert "待投递" in log.text
        assert "HTTP 500" in log.text  # the last error, as the bridge recorded it
        assert "<caption" in log.text
        assert 'scope="col"' in log.text

        refused = await clerk.get("/subscriptions", params={"sub": county_sub["id"]})
        assert refused.status_code == 404
        assert "没有该订阅" in refused.text

        county = await sign_in(client, users["county"])
        shown = await county.get("/subscriptions", params={"sub": county_sub["id"]})
        assert shown.status_code == 200, shown.text
        assert county_sub["id"] in shown.text
        assert amr_sub["id"] not in shown.text

        # The page reads exactly what the bridge's API says.
        assert len(await deliveries(bridge, tokens, county_sub["id"])) == 0
        for sub in (amr_sub, county_sub):
            owner = "AMR" if sub is amr_sub else "COUNTY"
            await bridge.delete(f"/v1/subscriptions/{sub['id']}", headers=bearer(tokens, owner))


async def test_a_clerk_reads_the_delivery_log_in_a_real_browser_and_not_another_departments(
    workbench: tuple[httpx.AsyncClient, dict[str, str]],
    bridge: httpx.AsyncClient,
    tokens: dict[str, str],
    outcomes: Outcomes,
) -> None:
    client, users = workbench
    failing = Receiver(fail=10**6, status=500)
    async with on_loopback(failing.app) as base, on_loopback(client.app) as site:  # type: ignore[attr-defined]
        mine = await own_subscription(bridge, tokens, "AMR", f"{base}/hook?for=amr")
        theirs = await own_subscription(bridge, tokens, "TAX", f"{base}/hook?for=tax")
        code = subject_code()
        amr_event, tax_event = objection_filed(code, "AMR"), objection_filed(code, "TAX")
        await outcomes.send("outcomes.objections", [amr_event, tax_event])

        async def failed_twice() -> list[list[dict[str, Any]]] | None:
            logs = [
                (await bridge.get(f"/v1/subscriptions/{sub['id']}/deliveries", headers=bearer(tokens, who))).json()
                for sub, who in ((mine, "AMR"), (theirs, "TAX"))
            ]
            done = all(any(d["attempts"] >= 2 for d in log["deliveries"]) for log in logs)
            return [log["deliveries"] for log in logs] if done else None

        amr_log, tax_log = await eventually(failed_twice, what="two failed attempts in both subscriptions' logs")
        # Each department's subscription carries its own objection only.
        assert ([d["event_id"] for d in amr_log], [d["event_id"] for d in tax_log]) == ([amr_event.id], [tax_event.id])

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
                await page.goto(site + "/login")
                await page.get_by_label("用户名").fill(users["amr"])
                await page.get_by_label("密码").fill(PASSWORD)
                await page.get_by_role("button", name="登录").click()
                await page.wait_for_url(lambda url: "/login" not in url)
                # The landing page (待办) reads services this test does not run: go to the page by its address.
                await page.goto(site + "/subscriptions")
                await page.get_by_role("link", name="订阅推送").wait_for()  # in the navigation
                await page.get_by_role("heading", name="订阅推送：AMR").wait_for()
                listed = page.get_by_role("table", name="本部门的推送订阅")
                await listed.get_by_role("link", name=mine["id"]).wait_for()
                assert theirs["id"] not in await page.content()  # TAX's subscription is not listed

                await listed.get_by_role("link", name=mine["id"]).click()
                await page.get_by_role("heading", name=f"投递记录：{mine['id']}").wait_for()
                log = page.get_by_role("table", name=re.compile("每次投递的尝试次数"))
                row = log.get_by_role("row").filter(has_text=code)
                cells = [c.strip() for c in await row.get_by_role("cell").all_inner_texts()]
                # state, attempts, last answer, last error (the row header is the event id)
                assert cells[2] == "待投递"
                assert int(cells[3]) >= 2
                assert cells[4] == "500"
                assert cells[5].startswith("HTTP 500")
                await row.get_by_text(re.compile(r"\d+ 次")).click()  # the attempts, one by one
                await row.get_by_role("listitem").first.wait_for()
                assert "HTTP 500" in await row.get_by_role("listitem").first.inner_text()
                await shot(page, "subscriptions-1-delivery-log")

                # Another department's subscription, asked for by id: refused in Chinese, nothing of it shown.
                response = await page.goto(site + "/subscriptions?sub=" + theirs["id"])
                assert response is not None
                assert response.status == 404
                await page.get_by_text("没有该订阅").first.wait_for()
                assert "for=tax" not in await page.content()
                await shot(page, "subscriptions-2-other-department-refused")
            finally:
                await browser.close()
        for sub, owner in ((mine, "AMR"), (theirs, "TAX")):
            await bridge.delete(f"/v1/subscriptions/{sub['id']}", headers=bearer(tokens, owner))


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def own_subscription(bridge: httpx.AsyncClient, tokens: dict[str, str], who: str, url: str) -> dict[str, Any]:
    """A department's subscription to its own objections (the types a department may subscribe to)."""
    created = await bridge.post(
        "/v1/subscriptions", json={"url": url, "types": ["cn.credit.objection.filed"]}, headers=bearer(tokens, who)
    )
    assert created.status_code == 201, created.text
    return dict(created.json())
