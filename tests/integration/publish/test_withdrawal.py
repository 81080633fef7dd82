"""Records leave publication at their maximum period (no new record needed) and at once when revoked;
a correction replaces the published content. Subscribers learn each change (DOMAIN §3 item 10, §7)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import orjson

from deploy.stack import Stack
from services.common.clock import SHANGHAI, FixedClock
from tests import factories
from tests.helpers import eventually, find_on_topic, header
from tests.integration.publish.support import amendment, bearer, public_id, report, shown, wait_shown

GENERAL_FINE = 20.0  # 一般 for an organisation under order 36: published for 12 months


async def feed_events(publish: httpx.AsyncClient, tokens: dict[str, str], record_id: str) -> list[dict[str, Any]]:
    """Every feed event about one public record id, read from the start of the feed."""
    found, after = [], None
    while True:
        params: dict[str, Any] = {"limit": 1000, **({"after": after} if after else {})}
        page = (await publish.get("/v1/feed", params=params, headers=bearer(tokens, "COUNTY"))).json()
        found += [e for e in page["events"] if e["data"].get("public_id") == record_id]
        if not page["has_more"]:
            return found
        after = page["next"]


async def test_record_is_withdrawn_automatically_the_day_after_its_publicity_period_ends(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str], at: FixedClock
) -> None:
    code = factories.uscc()
    earlier = factories.penalty(code=code, decision_date="2026-11-01", fine=GENERAL_FINE)
    later = factories.penalty(code=code, decision_date="2026-11-02", fine=GENERAL_FINE)
    for record in (earlier, later):
        await report(ingest, tokens, record)
    first = await wait_shown(publish, public_id(later), "both penalties on the portal")
    assert first["publicity_until"] == "2027-11-02"

    at.set(datetime(2027, 11, 2, 0, 0, 1, tzinfo=SHANGHAI))  # the earlier one's period ended yesterday

    async def earlier_gone() -> bool:
        return await shown(publish, public_id(earlier)) is None

    await eventually(earlier_gone, what="the earlier penalty to leave on 2027-11-02")
    assert await shown(publish, public_id(later)) is not None  # its last day: recomputed in the same pass

    at.set(datetime(2027, 11, 3, 0, 0, 1, tzinfo=SHANGHAI))

    async def later_gone() -> bool:
        return await shown(publish, public_id(later)) is None

    await eventually(later_gone, what="the later penalty to leave on 2027-11-03")
    events = await feed_events(publish, tokens, public_id(later))
    assert [e["data"]["event"] for e in events] == ["published", "withdrawn"]
    withdrawn = events[-1]
    assert withdrawn["type"] == "cn.credit.disclosure.withdrawn"
    assert withdrawn["id"] == f"publish:{public_id(later)}:withdrawn:v2"
    assert "2027-11-02" in withdrawn["data"]["reason"]
    assert withdrawn["data"]["content"] is None


async def test_revoked_penalty_is_withdrawn_at_once_and_subscribers_learn_why(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str], stack: Stack
) -> None:
    record = factories.penalty(fine=GENERAL_FINE)
    await report(ingest, tokens, record)
    await wait_shown(publish, public_id(record), "the penalty on the portal")

    revocation = amendment(
        record,
        "record_revocation",
        "2026-11-19",
        reason_kind="行政复议",
        reason="复议机关撤销原处罚决定。",
        document_no="示府复〔2026〕21号",
    )
    await report(ingest, tokens, revocation)

    async def gone() -> bool:
        return await shown(publish, public_id(record)) is None

    await eventually(gone, what="the revoked penalty to leave the portal")
    events = await eventually(
        lambda: _with_event(publish, tokens, public_id(record), "withdrawn"), what="the withdrawal in the feed"
    )
    withdrawn = events[-1]["data"]
    assert "复议机关撤销原处罚决定" in withdrawn["reason"]
    assert withdrawn["amendment"]["record_id"] == revocation["id"]
    assert withdrawn["amendment"]["document_no"] == "示府复〔2026〕21号"
    on_kafka = await find_on_topic(
        stack.bootstrap,
        f"{stack.config.topic_prefix}outcomes.disclosures",
        lambda m: header(m, "ce_id") == f"publish:{public_id(record)}:withdrawn:v2",
    )
    assert header(on_kafka, "ce_type") == "cn.credit.disclosure.withdrawn"
    assert on_kafka.key == record["subject"]["code"].encode()
    assert orjson.loads(on_kafka.value or b"") == withdrawn


async def test_corrected_penalty_is_replaced_on_the_portal_and_announced_as_corrected(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = factories.penalty(fine=GENERAL_FINE)
    await report(ingest, tokens, record)
    await wait_shown(publish, public_id(record), "the penalty on the portal")

    corrected = record["data"] | {"CF_NR": "罚款一百五十万元", "CF_NR_FK": 150.0}  # now 巨额: 严重, 3 years
    await report(
        ingest,
        tokens,
        amendment(
            record,
            "record_correction",
            "2026-11-19",
            reason_kind="自行纠错",
            reason="罚款金额录入错误。",
            changed_fields=["CF_NR", "CF_NR_FK"],
            corrected_data=corrected,
        ),
    )

    async def replaced() -> dict[str, Any] | None:
        shown_now = await shown(publish, public_id(record))
        return shown_now if shown_now and shown_now["corrected"] else None

    disclosure = await eventually(replaced, what="the corrected penalty on the portal")
    assert disclosure["data"]["CF_NR"] == "罚款一百五十万元"
    assert (disclosure["severity"], disclosure["publicity_until"]) == ("严重", "2029-11-02")
    events = await feed_events(publish, tokens, public_id(record))
    assert [e["data"]["event"] for e in events] == ["published", "corrected"]
    assert events[-1]["data"]["content"]["data"]["CF_NR_FK"] == 150.0


async def _with_event(
    publish: httpx.AsyncClient, tokens: dict[str, str], record_id: str, event: str
) -> list[dict[str, Any]] | None:
    events = await feed_events(publish, tokens, record_id)
    return events if events and events[-1]["data"]["event"] == event else None
