"""The portal's pages (DOMAIN §9): search by name or code, the subject and record pages, masked data."""

from __future__ import annotations

import httpx

from tests import factories
from tests.integration.portal.support import page, published
from tests.integration.publish.support import public_id, report, wait_shown


async def test_search_by_part_of_the_name_lists_the_record_with_its_publicity_end(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = await published(ingest, publish, tokens)
    fragment = record["data"]["CF_XDR_MC"][2:10]

    html = await page(publish, "/", q=fragment)

    assert record["data"]["CF_XDR_MC"] in html
    assert "公示截止期" in html
    assert f'href="/records/{public_id(record)}"' in html
    assert f'href="/subjects/{record["subject"]["code"]}"' in html
    assert "公示中" in html


async def test_subject_page_lists_its_published_records(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    first = await published(ingest, publish, tokens)
    code = first["subject"]["code"]
    second = await published(ingest, publish, tokens, code=code, name=first["data"]["CF_XDR_MC"])

    html = await page(publish, f"/subjects/{code}")

    assert first["data"]["CF_XDR_MC"] in html
    assert public_id(first) in html
    assert public_id(second) in html
    assert "2 条" in html


async def test_unknown_subject_and_unpublished_record_are_friendly_not_found_pages(publish: httpx.AsyncClient) -> None:
    assert "没有公示中的记录" in await page(publish, "/subjects/91500000MA0000000X")
    assert "未找到该记录" in await page(publish, "/records/AMR.AMR-NOPE-1", status=404)
    assert "完整的统一社会信用代码" in await page(publish, "/subjects/abc", status=404)


async def test_record_page_shows_the_masked_data_and_an_objection_link(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    id_number = factories.citizen_id()
    record = factories.penalty(kind="natural_person", code=id_number, name="诸葛门户", fine=2.0)
    await report(ingest, tokens, record)
    disclosure = await wait_shown(publish, public_id(record))

    html = await page(publish, f"/records/{public_id(record)}")

    assert "诸葛**" in html
    assert "诸葛门户" not in html
    assert id_number not in html
    assert disclosure["subject"]["code"] in html
    assert f"公示截止期</dt><dd>{disclosure['publicity_until']}" in html
    assert f'href="/objections/new?record={public_id(record)}"' in html
    assert f"行政处罚决定书文号</dt><dd>{record['data']['CF_WSH']}" in html  # field titles from the schema
    assert "['罚款']" not in html


async def test_search_text_is_echoed_escaped(publish: httpx.AsyncClient) -> None:
    html = await page(publish, "/", q='<script>alert("x")</script>')

    assert "<script>" not in html
    assert "&lt;script&gt;" in html


async def test_pages_are_chinese_accessible_and_styled(publish: httpx.AsyncClient) -> None:
    html = await page(publish, "/")
    assert '<html lang="zh-CN">' in html
    assert '<label for="q">' in html
    assert 'id="q"' in html
    assert "<script" not in html
    css = await publish.get("/static/portal.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
