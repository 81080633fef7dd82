"""The portal's lists (issue 15): a subject's page shows the lists it is on now, each published list has a
page of its own with paging, and every result count is the true total (not the length of one page)."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.publish import portal
from tests.helpers import eventually
from tests.integration.portal.support import page, published
from tests.integration.publish.support import public_id, report, shown, wait_shown
from tests.integration.publish.test_lists import list_record


def next_link(html: str) -> str | None:
    found = re.search(r'href="([^"]+)" rel="next"', html)
    return found.group(1).replace("&amp;", "&") if found else None


async def follow(publish: httpx.AsyncClient, link: str) -> str:
    """The page a link leads to (its query passed as params: httpx drops a URL's query given params)."""
    parts = urlsplit(link)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return await page(publish, parts.path, **query)


async def test_subject_page_shows_the_lists_it_is_on_now(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    penalty = await published(ingest, publish, tokens)
    subject = {"kind": "legal_person", "code": penalty["subject"]["code"], "name": penalty["data"]["CF_XDR_MC"]}
    listing = list_record("abnormal_operation_listing", 0, "2026-11-02", subject=subject)
    await report(ingest, tokens, listing)
    await wait_shown(publish, public_id(listing), "the 经营异常名录 entry")

    html = await page(publish, f"/subjects/{subject['code']}")
    on_lists = html.split('id="on-lists"', 1)[1].split('id="all-records"', 1)[0]
    assert "经营异常名录" in on_lists
    assert public_id(listing) in on_lists
    assert public_id(penalty) not in on_lists  # a penalty is a record, not a list
    assert "共 2 条" in html

    removal = list_record(
        "abnormal_operation_listing", 1, "2026-11-19", subject=subject, listing_record_id=listing["id"]
    )
    await report(ingest, tokens, removal)

    async def removed() -> bool:
        return await shown(publish, public_id(listing)) is None

    await eventually(removed, what="the entry to leave on its 移出")
    html = await page(publish, f"/subjects/{subject['code']}")
    assert "该主体目前不在公示的名单中" in html
    assert "共 1 条" in html


async def test_list_page_pages_through_the_list_and_counts_every_entry(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = [list_record("red_list", 0, f"2026-11-1{n}") for n in range(3)]
    for entry in entries:
        await report(ingest, tokens, entry, "DRC")
    for entry in entries:
        await wait_shown(publish, public_id(entry, "DRC"), "each red-list entry")
    total = await _api_total(publish, record_type="red_list")
    monkeypatch.setattr(portal, "PAGE_SIZE", 2)

    index = await page(publish, "/lists")
    assert 'href="/lists/red_list"' in index
    assert f"共 {total} 条" in index

    seen: list[str] = []
    url: str | None = "/lists/red_list"
    while url is not None:
        html = await follow(publish, url)
        assert f"目前在列：共 {total} 条" in html
        seen += re.findall(r'href="/records/([^"]+)"', html)
        url = next_link(html)
    assert len(seen) == total == len(set(seen))
    assert {public_id(e, "DRC") for e in entries} <= set(seen)
    assert "没有这个公示名单" in await page(publish, "/lists/watch_list", status=404)  # shared, never published


async def test_home_search_count_is_the_true_total_beyond_one_page(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = uuid.uuid4().hex[:8]
    records = [await published(ingest, publish, tokens, name=f"重庆{marker}{n}计数测试有限公司") for n in range(3)]
    monkeypatch.setattr(portal, "PAGE_SIZE", 2)

    first = await page(publish, "/", q=marker)
    assert f"“{marker}”的查询结果（共 3 条）" in first
    following = next_link(first)
    assert following is not None
    second = await follow(publish, following)
    assert next_link(second) is None
    shown_ids = re.findall(r'href="/records/([^"]+)"', first + second)
    assert sorted(shown_ids) == sorted(public_id(r) for r in records)


async def _api_total(publish: httpx.AsyncClient, **params: Any) -> int:
    total, cursor = 0, None
    while True:
        query = {"limit": 100, **params, **({"cursor": cursor} if cursor else {})}
        body = (await publish.get("/v1/disclosures", params=query)).json()
        total += len(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return total
