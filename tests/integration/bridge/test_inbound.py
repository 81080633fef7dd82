"""Inbound national lists (docs/bridge-wire-format.md §4): a national court defaulter for a subject of this
county restricts it here (sanctions' public API), and a file with a duplicate row, an unknown department, a
malformed row and a row ingest refuses gives each row a visible state, with nothing lost or doubled."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.common.clock import FixedClock
from tests import factories
from tests.helpers import eventually, served_in_process
from tests.integration.bridge.conftest import bearer


@pytest.fixture(scope="module")
async def sanctions(stack_env: dict[str, str], clock: FixedClock) -> AsyncIterator[httpx.AsyncClient]:
    from services.sanctions.app import create_app
    from services.sanctions.settings import SanctionsSettings

    app = create_app(SanctionsSettings(tick_seconds=0.2), clock=clock)
    async with served_in_process(app, "sanctions") as client:
        yield client


def court_row(code: str, row_id: str | None = None) -> dict[str, Any]:
    """A 失信被执行人 entry of the national list (最高人民法院) for a subject of this county."""
    data = copy.deepcopy(factories.examples("judgment_defaulter_listing")[0]["data"])
    data["case_no"] = f"（2026）渝0101执{uuid.uuid4().int % 100000}号"
    data["decision_date"] = "2026-11-05"
    return {
        "id": row_id or f"ZXGK-{uuid.uuid4().hex[:12]}",
        "list": "judgment_defaulter",
        "department": "COURT",
        "authority": "最高人民法院",
        "subject": {"kind": "legal_person", "code": code, "name": "示范县某某商贸有限公司"},
        "decision_date": "2026-11-05",
        "fields": data,
    }


def tax_row(code: str) -> dict[str, Any]:
    """A 重大税收违法失信主体 entry (国家税务总局), received on the tax line."""
    data = copy.deepcopy(factories.examples("serious_untrustworthy_listing")[1]["data"])
    data |= {
        "category": "破坏市场公平竞争秩序和社会正常秩序",
        "list_name": "重大税收违法失信主体",
        "deciding_authority": "国家税务总局重庆市税务局",
        "deciding_authority_uscc": "11500101MB15070224",
        "decision_date": "2026-11-04",
    }
    return {
        "id": f"SSWF-{uuid.uuid4().hex[:12]}",
        "list": "major_tax_violation",
        "department": "TAX",
        "authority": "国家税务总局",
        "subject": {"kind": "legal_person", "code": code, "name": "示范县某某贸易有限公司"},
        "decision_date": "2026-11-04",
        "fields": data,
    }


def national_file(rows: list[Any]) -> dict[str, Any]:
    return {"format": "cx-national/1", "batch_id": f"NAT-{uuid.uuid4().hex[:8]}", "records": rows}


async def import_file(bridge: httpx.AsyncClient, tokens: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = await bridge.post("/v1/bridge/inbound", json=body, headers=bearer(tokens, "COUNTY"))
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def restricted(sanctions: httpx.AsyncClient, tokens: dict[str, str], code: str) -> bool:
    response = await sanctions.get(
        f"/v1/subjects/{code}/restrictions", params={"matter": "real_estate"}, headers=bearer(tokens, "HOUSING")
    )
    assert response.status_code == 200, response.text
    return bool(response.json()["restricted"])


async def test_a_national_court_defaulter_restricts_the_subject_here(
    bridge: httpx.AsyncClient, sanctions: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = factories.uscc()
    assert await restricted(sanctions, tokens, code) is False

    answer = await import_file(bridge, tokens, national_file([court_row(code)]))

    (row,) = answer["records"]
    assert (row["state"], row["record_type"], row["department"]) == ("accepted", "judgment_defaulter_listing", "COURT")
    assert row["receipt"]["department"] == "COURT"
    assert row["receipt"]["record_id"].startswith("nat:ZXGK-")
    assert row["receipt"]["signature"]  # receipted and signed by ingest like any record

    async def listed() -> bool | None:
        return await restricted(sanctions, tokens, code) or None

    await eventually(listed, what="the national court defaulter's restriction (限制不动产交易)")


async def test_an_inbound_file_with_faults_gives_every_row_a_state_and_imports_nothing_twice(
    bridge: httpx.AsyncClient, ingest: httpx.AsyncClient, tokens: dict[str, str], national_tokens: dict[str, str]
) -> None:
    court, tax = court_row(factories.uscc()), tax_row(factories.uscc())
    unknown = court_row(factories.uscc()) | {"department": "HARBOUR"}
    malformed = {k: v for k, v in court_row(factories.uscc()).items() if k != "fields"}
    bad_code = court_row("915001012031456720")  # check character wrong: ingest's validation refuses it
    body = national_file([court, copy.deepcopy(court), unknown, malformed, bad_code, tax])

    first = await import_file(bridge, tokens, body)

    states = [r["state"] for r in first["records"]]
    assert states == ["accepted", "duplicate", "refused", "refused", "refused", "accepted"]
    assert first["counts"] == {"accepted": 2, "duplicate": 1, "refused": 3, "pending": 0}
    rows = first["records"]
    assert rows[1]["errors"][0]["pointer"] == "/records/1/id"
    unknown_error = rows[2]["errors"][0]
    assert (unknown_error["pointer"], unknown_error["code"]) == ("/records/2/department", "unknown_department")
    assert "未知的部门代码" in rows[2]["errors"][0]["message"]
    assert (rows[3]["errors"][0]["pointer"], rows[3]["errors"][0]["code"]) == ("/records/3/fields", "malformed_row")
    assert rows[4]["errors"][0]["pointer"] == "/records/4/subject/code"
    assert rows[4]["errors"][0]["message"].startswith("未通过报送校验")

    # The same file again (the province resends it): every entry already imported is a duplicate with its
    # first receipt; nothing is recorded twice.
    again = await import_file(bridge, tokens, body | {"batch_id": body["batch_id"] + "-R"})
    assert again["counts"] == {"accepted": 0, "duplicate": 3, "refused": 3, "pending": 0}
    assert again["records"][0]["receipt"] == rows[0]["receipt"]
    assert again["records"][5]["receipt"] == rows[5]["receipt"]

    # Every row's state stays readable, and the file is listed with its counts.
    shown = await bridge.get(f"/v1/bridge/inbound/{first['id']}", headers=bearer(tokens, "AUDITOR"))
    assert shown.status_code == 200
    assert shown.json()["records"] == first["records"]
    listed = await bridge.get("/v1/bridge/inbound", headers=bearer(tokens, "COUNTY"))
    assert {f["id"] for f in listed.json()["files"]} >= {first["id"], again["id"]}
    # Only the county imports; a department may not.
    refused = await bridge.post("/v1/bridge/inbound", json=body, headers=bearer(tokens, "COURT"))
    assert refused.status_code == 403

    # Only the national channel may set `source`: the court's own credential may not claim it.
    envelope = {
        "id": f"COURT-{uuid.uuid4().hex[:8]}",
        "type": "judgment_defaulter_listing",
        "version": 1,
        "subject": court["subject"],
        "decision_date": court["decision_date"],
        "data": court["fields"],
        "source": {"channel": "national", "list": "judgment_defaulter", "authority": "最高人民法院"},
    }
    own = await ingest.post("/v1/records", json=envelope, headers=bearer(tokens, "COURT"))
    assert own.status_code == 403
    assert own.json()["errors"][0]["path"] == "/source"
    channel = await ingest.post(
        "/v1/records", json=envelope, headers={"authorization": f"Bearer {national_tokens['COURT']}"}
    )
    assert channel.status_code == 202, channel.text


async def test_an_unreadable_file_is_refused_whole(bridge: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    for body, pointer in (
        ({"format": "cx-province/1", "batch_id": "B1", "records": [{}]}, "/format"),
        ({"format": "cx-national/1", "batch_id": "B1", "records": []}, "/records"),
    ):
        response = await bridge.post("/v1/bridge/inbound", json=body, headers=bearer(tokens, "COUNTY"))
        assert response.status_code == 422
        assert response.json()["errors"][0]["path"] == pointer
