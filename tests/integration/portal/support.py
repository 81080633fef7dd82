"""Helpers of the portal tests: publish a record through ingest, read the portal's HTML."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests import factories
from tests.integration.publish.support import public_id, report, wait_shown


async def published(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, tokens: dict[str, str], **fields: Any
) -> dict[str, Any]:
    """A penalty with a unique company name, reported and published."""
    fields.setdefault("name", f"重庆{uuid.uuid4().hex[:8]}门户测试有限公司")
    record = factories.penalty(fine=20.0, **fields)
    await report(ingest, tokens, record)
    await wait_shown(publish, public_id(record))
    return record


async def page(publish: httpx.AsyncClient, url: str, status: int = 200, **params: str) -> str:
    response = await publish.get(url, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


async def file_on_portal(publish: httpx.AsyncClient, record: dict[str, Any], **overrides: str) -> httpx.Response:
    form = {
        "record_id": public_id(record),
        "subject_code": record["subject"]["code"],
        "reason": "处罚已履行完毕，记录中的违法事实有误。",
        "contact": "13800000000",
        **overrides,
    }
    return await publish.post("/objections/new", data=form)


def case_of(response: httpx.Response) -> tuple[str, str]:
    """(case number, code) of the case page a successful form submission redirects to."""
    assert response.status_code == 303, response.text
    location = urlsplit(response.headers["location"])
    match = re.fullmatch(r"/objections/(OBJ-\d{8}-[0-9A-F]{8})", location.path)
    assert match is not None, location
    return match.group(1), parse_qs(location.query)["code"][0]
