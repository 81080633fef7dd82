"""Publicity periods by the rule set in force on the decision date (DOMAIN §7), through ingest and publish."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from services.common.clock import SHANGHAI, FixedClock
from tests import factories
from tests.integration.publish.support import public_id, report, shown, wait_shown

SERIOUS = ("吊销许可证件",)  # 严重 in every rule set
GENERAL_FINE = 20.0  # 万元: 较大数额 for an organisation (≥ 10) → 一般
MINOR_FINE = 2.5  # 万元: below 较大数额 → 轻微


@pytest.mark.parametrize(
    ("decided", "today", "categories", "fine", "rule_set", "until"),
    [
        pytest.param("2023-04-30", "2026-03-02", SERIOUS, None, "ndrc-2019-527", "2026-04-30", id="527-last-day"),
        pytest.param("2023-05-01", "2026-03-02", SERIOUS, None, "ndrc-order-58", "2026-05-01", id="58-first-day"),
        pytest.param(
            "2026-03-31", "2026-11-20", ("罚款",), MINOR_FINE, "ndrc-order-58", "2029-03-31", id="58-last-day"
        ),
        pytest.param(
            "2026-04-01", "2026-11-20", ("罚款",), GENERAL_FINE, "ndrc-order-36", "2027-04-01", id="36-1st-day"
        ),
    ],
)
async def test_penalty_is_published_until_the_end_of_the_period_of_the_rule_set_in_force_on_its_decision_date(
    ingest: httpx.AsyncClient,
    publish: httpx.AsyncClient,
    tokens: dict[str, str],
    at: FixedClock,
    decided: str,
    today: str,
    categories: tuple[str, ...],
    fine: float | None,
    rule_set: str,
    until: str,
) -> None:
    at.set(datetime.fromisoformat(today).replace(hour=10, tzinfo=SHANGHAI))
    record = factories.penalty(decision_date=decided, categories=categories, fine=fine)
    await report(ingest, tokens, record)

    disclosure = await wait_shown(publish, public_id(record), "the penalty on the portal")

    assert disclosure["rule_set"] == rule_set
    assert disclosure["publicity_until"] == until
    assert disclosure["data"]["CF_GSJZQ"] == until  # 公示截止期 on the published penalty


async def test_minor_penalty_decided_on_2026_04_01_is_not_published_under_order_36(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = factories.uscc()
    minor = factories.penalty(code=code, decision_date="2026-04-01", fine=MINOR_FINE)
    warning = factories.penalty(code=code, decision_date="2026-04-01", categories=("警告",), fine=None)
    general = factories.penalty(code=code, decision_date="2026-04-01", fine=GENERAL_FINE)
    for record in (minor, warning, general):
        await report(ingest, tokens, record)

    # One subject, one partition, in order: once the last is on the portal, the first two were decided.
    await wait_shown(publish, public_id(general), "the 一般 penalty on the portal")

    assert await shown(publish, public_id(minor)) is None
    assert await shown(publish, public_id(warning)) is None
    found = (await publish.get("/v1/disclosures", params={"q": code})).json()["items"]
    assert [item["record_id"] for item in found] == [public_id(general)]
    assert found[0]["severity"] == "一般"


async def test_minor_penalty_decided_on_2026_03_31_is_still_published_under_order_58(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = factories.penalty(decision_date="2026-03-31", categories=("警告",), fine=None)
    await report(ingest, tokens, record)

    disclosure = await wait_shown(publish, public_id(record), "the warning on the portal")

    assert (disclosure["rule_set"], disclosure["severity"]) == ("ndrc-order-58", "轻微")
    # 58号令: a food-safety penalty (CF_YJ cites 食品安全法) has a one-year minimum before repair.
    assert disclosure["repair_from"] == "2027-04-01"


async def test_licence_stays_published_while_valid(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = factories.licensing(valid_to="2031-11-01")
    await report(ingest, tokens, record)

    disclosure = await wait_shown(publish, public_id(record), "the licence on the portal")

    assert disclosure["publicity_until"] == "2031-11-01"
    assert disclosure["status"] == "公示中"
    assert disclosure["objection_pending"] is False
