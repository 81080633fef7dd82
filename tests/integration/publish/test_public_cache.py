"""The public read cache (issue 19): anonymous public answers are served again from memory, but never once a
change that takes a record off (or changes it) has committed: the very next request shows the change."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from tests import factories
from tests.helpers import eventually
from tests.integration.publish.support import amendment, bearer, context, public_id, report, wait_shown

GENERAL_FINE = 20.0


def public_reads(record: dict[str, Any]) -> list[str]:
    """The cached public reads that show ``record``: search API, record API, portal home, subject, record."""
    code, pid = record["subject"]["code"], public_id(record)
    return [
        f"/v1/disclosures?q={code}",
        f"/v1/disclosures/{quote(pid)}",
        f"/?q={code}",
        f"/subjects/{code}",
        f"/records/{quote(pid)}",
    ]


async def served_from_cache(publish: httpx.AsyncClient, path: str) -> httpx.Response:
    """A repeat request answered from the cache (a change committed by other work in between makes the repeat
    a miss: then it is asked again)."""

    async def hit() -> httpx.Response | None:
        response = await publish.get(path)
        return response if response.headers.get("x-cache") == "hit" else None

    return await eventually(hit, timeout=10, what=f"{path} served from the cache")


async def hits(publish: httpx.AsyncClient, page: str) -> float:
    found = re.search(
        rf'^exchange_public_cache_hits_total\{{page="{page}"\}} (\S+)$', (await publish.get("/metrics")).text, re.M
    )
    return float(found.group(1)) if found else 0.0


async def state_of(publish: httpx.AsyncClient, pid: str) -> str:
    """The stored state of a disclosure, read from the database (not through the cache)."""
    async with context(publish).engine.connect() as conn:
        row = (await conn.execute(text("SELECT state FROM publish.disclosures WHERE public_id = :p"), {"p": pid})).one()
    return str(row.state)


async def test_a_revoked_record_leaves_every_cached_public_answer_in_the_next_request_after_its_commit(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = factories.penalty(fine=GENERAL_FINE)
    pid = public_id(record)
    await report(ingest, tokens, record)
    await wait_shown(publish, pid, "the penalty on the portal")
    before = await hits(publish, "subject")
    for path in public_reads(record):
        cached = await served_from_cache(publish, path)
        assert cached.status_code == 200, (path, cached.text)
        assert pid in cached.text, path
    assert await hits(publish, "subject") > before  # /metrics counts what the header says

    revocation = amendment(
        record,
        "record_revocation",
        "2026-11-19",
        reason_kind="行政复议",
        reason="复议撤销。",
        document_no="示复〔2026〕3号",
    )
    await report(ingest, tokens, revocation)

    async def committed() -> bool:
        return await state_of(publish, pid) != "published"

    await eventually(committed, what="the withdrawal committed")
    search, one, home, subject, page = [await publish.get(path) for path in public_reads(record)]
    assert search.status_code == 200
    assert search.json()["items"] == []
    assert one.status_code == 410
    assert one.json()["record"]["status"] == "已撤销"
    assert "data" not in one.json()["record"]
    assert (home.status_code, subject.status_code, page.status_code) == (200, 200, 410)
    assert pid not in home.text
    assert pid not in subject.text
    assert "已撤销" in page.text


async def test_any_committed_write_of_the_public_rows_is_seen_at_once_and_an_uncommitted_one_never(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    """The generation is bumped by a trigger on the table, so a statement from no code path of the service
    counts too; a change still in an open transaction is neither shown nor makes the cache forget."""
    record = factories.penalty(fine=GENERAL_FINE)
    pid = public_id(record)
    path = f"/v1/disclosures?q={record['subject']['code']}"
    await report(ingest, tokens, record)
    await wait_shown(publish, pid, "the penalty on the portal")
    await served_from_cache(publish, path)
    flip = text("UPDATE publish.disclosures SET state = :s WHERE public_id = :p")

    async with context(publish).engine.connect() as conn:
        await conn.execute(flip, {"s": "withdrawn", "p": pid})  # not committed yet
        still = await publish.get(path)
        assert [item["record_id"] for item in still.json()["items"]] == [pid]
        await conn.commit()
        gone = await publish.get(path)
        assert gone.headers["x-cache"] == "miss"
        assert gone.json()["items"] == []
        await conn.execute(flip, {"s": "published", "p": pid})
        await conn.commit()
    back = await publish.get(path)
    assert [item["record_id"] for item in back.json()["items"]] == [pid]


async def test_authenticated_and_non_public_reads_are_never_cached(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = factories.penalty(fine=GENERAL_FINE)
    code = record["subject"]["code"]
    await report(ingest, tokens, record)
    await wait_shown(publish, public_id(record), "the penalty on the portal")
    county = bearer(tokens, "COUNTY")
    before = await hits(publish, "search")

    for _ in range(2):
        answered = await publish.get(f"/v1/disclosures?q={code}", headers=county)
        assert answered.status_code == 200
        assert "x-cache" not in answered.headers
        for path in ("/v1/deadlines", "/v1/feed?limit=1", "/v1/objections", "/v1/repairs"):
            private = await publish.get(path, headers=county)
            assert private.status_code == 200, (path, private.text)
            assert "x-cache" not in private.headers, path
    filed = await publish.post(
        "/v1/objections",
        json={"record_id": public_id(record), "subject_code": code, "reason": "事实有误。", "contact": "13800000000"},
    )
    case = filed.json()["objection"]["objection_id"]
    for path in (f"/v1/objections/{case}?code={code}", f"/objections/{case}?code={code}"):
        for _ in range(2):
            assert "x-cache" not in (await publish.get(path)).headers, path
    assert await hits(publish, "search") == before


async def requests_counted(publish: httpx.AsyncClient, route: str) -> float:
    """GET requests answered 200 that the request metrics counted under ``route``."""
    wanted = {"service": "publish", "route": route, "method": "GET", "status": "200"}
    return sum(
        sample.value
        for family in text_string_to_metric_families((await publish.get("/metrics")).text)
        for sample in family.samples
        if sample.name == "exchange_http_requests_total" and sample.labels == wanted
    )


async def test_hits_answered_before_routing_are_each_exact_request_still_counted_under_its_route(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    """A hit is sent before FastAPI's routing, found by the exact path and query string: another spelling of
    the same read is computed once and then a hit of its own; the request metrics still name the route, and a
    request with a token is still computed and not kept."""
    record = factories.penalty(fine=GENERAL_FINE)
    code, pid = record["subject"]["code"], public_id(record)
    await report(ingest, tokens, record)
    await wait_shown(publish, pid, "the penalty on the portal")
    for path in (f"/v1/disclosures?q={code}", f"/v1/disclosures?limit=20&q={code}", f"/records/{quote(pid)}"):
        await served_from_cache(publish, path)
    counted, before, answered = await requests_counted(publish, "/v1/disclosures"), await hits(publish, "search"), 0
    for path in (f"/v1/disclosures?q={code}", f"/v1/disclosures?limit=20&q={code}"):
        again = await publish.get(path)
        if again.headers["x-cache"] == "hit":  # (a commit by other work in between makes it a miss)
            answered += 1
            assert [item["record_id"] for item in again.json()["items"]] == [pid]
            assert again.headers["content-type"] == "application/json"
            assert again.headers["x-request-id"]
        token = await publish.get(path, headers=bearer(tokens, "COUNTY"))
        assert token.status_code == 200
        assert "x-cache" not in token.headers
    assert await requests_counted(publish, "/v1/disclosures") == counted + 4
    assert await hits(publish, "search") == before + answered
    page = await publish.get(f"/records/{quote(pid)}")
    assert page.headers["content-type"].startswith("text/html")
    assert pid in page.text
