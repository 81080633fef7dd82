"""The delivery log in the workbench (订阅推送): a department's staff see their department's subscriptions
and each delivery's attempts, status and last error, read through the bridge's API acting for the user;
the county's staff see the county's; another party's subscription is refused in Chinese."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from services.common.clock import FixedClock
from services.common.outcomes import outcome_event
from services.workbench import accounts
from services.workbench.accounts import StaffRole
from tests.helpers import eventually, served_in_process
from tests.integration.bridge.conftest import Outcomes, bearer, on_loopback, subject_code
from tests.integration.bridge.test_webhooks import Receiver, deliveries, subscribe
from tests.integration.workbench.support import PASSWORD, sign_in


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


def objection_filed(code: str) -> Any:
    return outcome_event(
        service="publish",
        kind="objection.filed",
        subject=code,
        event_id=f"publish:objection:{uuid.uuid4().hex[:10]}:filed",
        time=datetime.now(UTC),
        data={"objection_id": "OBJ-1", "department": "AMR", "record_id": "r-1", "subject_code": code},
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
