"""The HTTP outcome feed (`GET /v1/feed?after=`): stable cursors, no gaps, no duplicates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from services.common.envelope import CloudEvent
from services.publish import store
from tests import factories
from tests.helpers import eventually
from tests.integration.publish.support import bearer, context, public_id, report, wait_shown


async def read_to_end(publish: httpx.AsyncClient, tokens: dict[str, str], after: str | None, limit: int) -> Any:
    """(every event after ``after``, the pages as served, the final cursor)."""
    events: list[dict[str, Any]] = []
    pages: list[tuple[str | None, dict[str, Any]]] = []
    while True:
        params: dict[str, Any] = {"limit": limit, **({"after": after} if after else {})}
        response = await publish.get("/v1/feed", params=params, headers=bearer(tokens, "COUNTY"))
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append((after, page))
        events += page["events"]
        after = page["next"]
        if not page["has_more"]:
            return events, pages, after


async def test_feed_pages_have_no_gaps_no_duplicates_and_a_cursor_always_returns_the_same_page(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    _, _, head = await read_to_end(publish, tokens, None, 1000)
    records = [factories.penalty(fine=20.0) for _ in range(5)]
    for record in records:
        await report(ingest, tokens, record)
    for record in records:
        await wait_shown(publish, public_id(record), "each penalty published")

    async def all_five() -> Any:
        events, pages, _ = await read_to_end(publish, tokens, head, 2)
        ids = {e["data"].get("public_id") for e in events}
        return (events, pages) if {public_id(r) for r in records} <= ids else None

    events, pages = await eventually(all_five, what="the five publications in the feed")

    cursors = [e["cursor"] for e in events]
    assert len(set(cursors)) == len(cursors)
    assert len({e["id"] for e in events}) == len(events)
    for after, page in pages:
        params = {"limit": 2, **({"after": after} if after else {})}
        again = await publish.get("/v1/feed", params=params, headers=bearer(tokens, "COUNTY"))
        assert again.json()["events"] == page["events"]


async def test_feed_never_skips_an_event_whose_transaction_commits_after_a_later_positioned_one(
    publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    engine = context(publish).engine
    _, _, head = await read_to_end(publish, tokens, None, 1000)
    early_xid, late_xid = _event("early-xid"), _event("late-xid")
    async with engine.connect() as first, engine.connect() as second:
        await first.begin()
        await second.begin()
        await first.exec_driver_sql("SELECT pg_current_xact_id()")  # the older transaction id …
        await store.append_feed(second, store.SCHEMA, [late_xid])  # … but the later one takes the smaller position
        await store.append_feed(first, store.SCHEMA, [early_xid])
        await first.commit()

        async def early_served() -> Any:
            events, _, cursor = await read_to_end(publish, tokens, head, 1000)
            return cursor if early_xid.id in {e["id"] for e in events} else None

        cursor = await eventually(early_served, what="the committed event to be served")
        await second.commit()

    async def late_served() -> bool:
        events, _, _ = await read_to_end(publish, tokens, cursor, 1000)
        return late_xid.id in {e["id"] for e in events}

    await eventually(late_served, what="the event committed last to come after the cursor already handed out")


async def test_feed_is_for_departments_the_county_platform_and_auditors(
    publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    anonymous = await publish.get("/v1/feed")
    garbled = await publish.get("/v1/feed", params={"after": "yesterday"}, headers=bearer(tokens, "AUDITOR"))

    assert anonymous.status_code == 401
    assert garbled.status_code == 422
    assert garbled.json()["errors"][0]["path"] == "/query/after"


def _event(name: str) -> CloudEvent:
    return CloudEvent(
        id=f"test:{name}:{factories.uscc()}",
        source="/tests",
        type="cn.credit.test.feed",
        subject="test",
        time=datetime.now(UTC),
        data={"name": name},
    )
