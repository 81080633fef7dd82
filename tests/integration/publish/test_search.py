"""Public queries (一站式查询): published records only, by name or credit code, page by page."""

from __future__ import annotations

import uuid

import httpx
import pytest

from services.publish.store import public as public_reads
from tests import factories
from tests.helpers import eventually
from tests.integration.publish.support import amendment, bearer, public_id, report, shown, wait_shown


async def test_search_by_part_of_the_name_or_the_code_pages_through_published_records_only(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code, marker = factories.uscc(), f"测{uuid.uuid4().hex[:8]}"
    name = f"重庆{marker}商贸有限公司"
    records = [factories.penalty(code=code, name=name, decision_date=f"2026-11-0{day}", fine=20.0) for day in (2, 3, 4)]
    revoked = factories.penalty(code=code, name=name, decision_date="2026-11-05", fine=20.0)
    for record in (*records, revoked):
        await report(ingest, tokens, record)
    await wait_shown(publish, public_id(revoked), "the penalties on the portal")
    revocation = amendment(
        revoked,
        "record_revocation",
        "2026-11-19",
        reason_kind="行政复议",
        reason="复议撤销",
        document_no="示府复〔2026〕3号",
    )
    await report(ingest, tokens, revocation)

    async def revoked_gone() -> bool:
        return await shown(publish, public_id(revoked)) is None

    await eventually(revoked_gone, what="the revoked penalty to leave")

    first = (await publish.get("/v1/disclosures", params={"q": marker, "limit": 2})).json()
    second = (
        await publish.get("/v1/disclosures", params={"q": marker, "limit": 2, "cursor": first["next_cursor"]})
    ).json()
    by_code = (await publish.get("/v1/disclosures", params={"q": code})).json()

    newest_first = [public_id(r) for r in reversed(records)]
    assert [i["record_id"] for i in first["items"]] == newest_first[:2]
    assert [i["record_id"] for i in second["items"]] == newest_first[2:]
    assert second["next_cursor"] is None
    assert [i["record_id"] for i in by_code["items"]] == newest_first
    assert all(i["subject"]["name"] == name and "publicity_until" in i for i in by_code["items"])


@pytest.mark.parametrize("window", [1, 100_000], ids=["rare-fragment-via-token-index", "common-fragment-via-newest"])
async def test_two_character_name_fragment_finds_the_same_records_by_either_search_path(
    ingest: httpx.AsyncClient,
    publish: httpx.AsyncClient,
    tokens: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    window: int,
) -> None:
    fragment = "骉犇"  # two rare characters: no other test uses them
    records = [factories.penalty(name=f"示范县{fragment}{n}号餐饮店", fine=20.0) for n in range(3)]
    for record in records:
        await report(ingest, tokens, record)
    for record in records:
        await wait_shown(publish, public_id(record), "the penalties on the portal")
    monkeypatch.setattr(public_reads, "RECENT_WINDOW", window)

    found = (await publish.get("/v1/disclosures", params={"q": fragment, "limit": 100})).json()["items"]

    assert {public_id(r) for r in records} <= {item["record_id"] for item in found}
    assert all(fragment in item["subject"]["name"] for item in found)


async def test_unknown_or_withdrawn_record_is_not_found(publish: httpx.AsyncClient) -> None:
    response = await publish.get("/v1/disclosures/AMR.AMR-T-never-reported")

    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"


async def test_search_treats_wildcards_as_text(publish: httpx.AsyncClient) -> None:
    response = await publish.get("/v1/disclosures", params={"q": "%_%"})

    assert response.status_code == 200
    assert response.json()["items"] == []


async def test_a_search_answered_before_routing_is_byte_for_byte_the_route_s_answer(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    """Plain searches are answered before FastAPI's routing (public_search.SearchFastPath); a spelling that
    path passes on (``limit=020``, which FastAPI reads as 20) reaches the route. Both compute (a token: not
    cached) and must send the same bytes: by code, by a fragment without letters (``LIKE``), by letters in
    another case (``ILIKE``), paged by cursor, by record type, with no term. What the route refuses is still
    refused with its 422 body."""
    code, marker = factories.uscc(), uuid.uuid4().hex[:6].upper()
    name = f"重庆{marker}骉鑫商贸有限公司"
    records = [factories.penalty(code=code, name=name, decision_date=f"2026-11-0{day}", fine=20.0) for day in (2, 3, 4)]
    for record in records:
        await report(ingest, tokens, record)
    for record in records:
        await wait_shown(publish, public_id(record), "the penalties on the portal")
    county = bearer(tokens, "COUNTY")
    first = (await publish.get("/v1/disclosures", params={"q": code, "limit": 2}, headers=county)).json()
    searches = [
        {"q": code},
        {"q": f"{marker}骉鑫"},
        {"q": marker.lower()},
        {"q": f" {code} ", "limit": 2},
        {"q": code, "limit": 2, "cursor": first["next_cursor"]},
        {"q": code, "record_type": "administrative_penalty"},
        {"q": code, "record_type": ""},
        {},
    ]
    for params in searches:
        fast = await publish.get("/v1/disclosures", params={**params, "limit": params.get("limit", 20)}, headers=county)
        routed = await publish.get(
            "/v1/disclosures", params={**params, "limit": f"0{params.get('limit', 20)}"}, headers=county
        )
        assert fast.status_code == routed.status_code == 200, params
        assert fast.content == routed.content, params
        assert fast.headers["content-type"] == routed.headers["content-type"] == "application/json"
        assert "x-cache" not in fast.headers
    found = (await publish.get("/v1/disclosures", params={"q": marker.lower()})).json()["items"]
    assert {item["record_id"] for item in found} == {public_id(r) for r in records}  # another case: ILIKE

    for bad in ("limit=0", "limit=abc", "cursor=nope", f"q={'名' * 101}", "q=%00", "q=a&q=b&limit=101"):
        response = await publish.get(f"/v1/disclosures?{bad}")
        assert response.status_code == 422, bad
        assert response.json()["errors"], bad
