"""Credit reports through the public API of the reports service (issue 16): the sections each audience
gets, the PDF's text, verification of an issued, an altered and a forged report, supersession, replay,
batch checks of 1,000 codes and the scorecard, and bad input."""

from __future__ import annotations

import asyncio
import io
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncEngine

from services.cli import main as cli
from services.reports import store
from services.reports.replay import migrate_schema, rebuild
from services.reports.rules.view import credit_view
from services.reports.settings import ReportsSettings
from tests import factories
from tests.integration.publish.support import bearer
from tests.integration.reports.support import Scenario, build_scenario, issue


@pytest.fixture(scope="module")
async def scenario(
    ingest: httpx.AsyncClient,
    publish: httpx.AsyncClient,
    grading: httpx.AsyncClient,
    reports: httpx.AsyncClient,
    tokens: dict[str, str],
) -> Scenario:
    return await build_scenario(ingest, publish, reports, tokens)


def _items(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["record_id"]: i for g in view["records"] for i in g["items"]}


async def test_department_report_has_every_section_with_its_marks(
    reports: httpx.AsyncClient, tokens: dict[str, str], scenario: Scenario
) -> None:
    response = await issue(reports, tokens, scenario.code)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["number"].startswith("XYBG-20261120-")
    assert (body["kind"], body["valid_until"], body["key_id"][:4]) == ("department", "2026-12-20", "rpt-")
    view = body["content"]["view"]
    assert (view["audience"], view["matter"], view["subject"]["name"]) == ("department", "public_tender", scenario.name)
    assert ["市场主体类型", "有限责任公司（自然人投资或控股）"] in view["registration"]["lines"]
    groups = {(g["title"], g["department"]) for g in view["records"]}
    assert groups == {("行政处罚", "AMR"), ("行政处罚", "TAX"), ("行政处罚", "HOUSING"), ("经营异常名录", "AMR")}
    items = _items(view)
    assert items[scenario.current["id"]]["marks"] == []
    assert ["备注（部门共享）", "内部备注：已约谈法定代表人"] in items[scenario.current["id"]]["lines"]
    assert items[scenario.objected["id"]]["marks"] == ["异议处理中"]
    assert items[scenario.repaired["id"]]["marks"] == ["已修复（2026-11-20）"]
    assert items[scenario.withdrawn["id"]]["marks"] == ["已撤销（2026-11-10：行政复议机关撤销原处罚决定。）"]
    assert [(e["list"], e["department"], e["since"]) for e in view["lists"]] == [("经营异常名录", "AMR", "2026-07-01")]
    assert [o["objection_id"] for o in view["objections_pending"]] == [scenario.objection_id]
    assert [w["record_id"] for w in view["withdrawn"]] == [scenario.withdrawn["id"]]
    assert [r["record_id"] for r in view["repairs"]] == [scenario.repaired["id"]]
    assert view["grade"] is not None
    assert view["grade"]["grade"] in {"A", "B", "C", "D"}


async def test_public_and_special_reports_show_only_public_fields_and_live_records(
    reports: httpx.AsyncClient, scenario: Scenario
) -> None:
    response = await reports.post(f"/v1/subjects/{scenario.code}/reports", json={"kind": "public"})

    assert response.status_code == 201, response.text
    view = response.json()["content"]["view"]
    items = _items(view)
    assert set(items) == {scenario.current["id"], scenario.objected["id"], scenario.listing["id"]}
    assert items[scenario.objected["id"]]["marks"] == ["异议处理中"]
    assert all("部门共享" not in label for i in items.values() for label, _ in i["lines"])
    assert "内部备注" not in response.text
    assert (view["grade"], view["sanctions"], view["withdrawn"], view["repairs"]) == (None, [], [], [])

    special = await reports.post(f"/v1/subjects/{scenario.code}/reports", json={"kind": "special"})
    assert special.status_code == 201, special.text
    content = special.json()["content"]
    assert special.json()["valid_until"] == "2027-02-18"
    texts = {(s["area"], s["department"]): s["text"] for s in content["statements"]}
    assert (
        texts[("administrative_penalty", "HOUSING")]
        == "2023-11-21 至 2026-11-20，无住房和城乡建设局作出的行政处罚记录。"
    )
    assert "有税务局作出的行政处罚记录 1 条" in texts[("administrative_penalty", "TAX")]
    assert "有市场监管局作出的经营异常名录记录 1 条" in texts[("abnormal_operation_listing", "AMR")]


async def test_pdf_carries_the_number_subject_and_lines_and_verifies_until_altered(
    reports: httpx.AsyncClient, tokens: dict[str, str], scenario: Scenario, tmp_path: Path
) -> None:
    issued = (await issue(reports, tokens, scenario.code, who="AMR", matter="government_procurement")).json()
    number = issued["number"]
    pdf = await reports.get(f"/v1/reports/{number}.pdf", headers=bearer(tokens, "AMR"))
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    for expected in (number, scenario.name, scenario.code, "信用记录核查报告", "异议处理中", "经营异常名录", "已撤销"):
        assert expected in text.replace("\n", ""), expected
    assert (await reports.get(f"/v1/reports/{number}.pdf")).status_code == 401  # a department's report
    assert (await reports.get(f"/v1/reports/{number}.pdf", headers=bearer(tokens, "TAX"))).status_code == 403

    checked = (await reports.post("/v1/reports:verify", content=pdf.content)).json()
    assert (checked["authentic"], checked["report"]["status"]) == (True, "valid")
    verification = (await reports.get(f"/v1/reports/{number}/verification")).json()
    assert verification["content_digest"] == issued["content_digest"]
    assert verification["pdf_sha256"] == checked["file_sha256"]
    altered = pdf.content.replace(scenario.code.encode()[:6], b"000000", 1)
    if altered == pdf.content:  # the code is in a compressed stream: change a byte in the middle instead
        middle = len(pdf.content) // 2
        altered = pdf.content[:middle] + bytes([pdf.content[middle] ^ 1]) + pdf.content[middle + 1 :]
    assert (await reports.post("/v1/reports:verify", content=altered)).json()["authentic"] is False

    key = tmp_path / "reports.pem"
    key.write_text((await reports.get("/v1/reports/public-key")).json()["pem"])
    good, bad = tmp_path / f"{number}.pdf", tmp_path / "altered.pdf"
    good.write_bytes(pdf.content)
    bad.write_bytes(altered)
    assert await asyncio.to_thread(cli, ["reports", "verify", str(good), "--public-key", str(key)]) == 0
    assert await asyncio.to_thread(cli, ["reports", "verify", str(bad), "--public-key", str(key)]) == 1
    html = await reports.get(f"/v1/reports/{number}.html", headers=bearer(tokens, "AMR"))
    good.write_bytes(html.content)
    assert await asyncio.to_thread(cli, ["reports", "verify", str(good), "--public-key", str(key)]) == 0


async def test_forged_number_is_not_found_and_a_newer_report_supersedes(
    reports: httpx.AsyncClient, tokens: dict[str, str], scenario: Scenario
) -> None:
    forged = await reports.get("/v1/reports/XYBG-20261120-9999999/verification")
    assert forged.status_code == 404
    assert forged.json()["errors"][0]["code"] == "unknown_report"
    assert (await reports.get("/v1/reports/not-a-number/verification")).status_code == 404

    first = (await issue(reports, tokens, scenario.code, who="DRC", matter="fiscal_subsidy", formats=["html"])).json()
    second = (await issue(reports, tokens, scenario.code, who="DRC", matter="fiscal_subsidy", formats=["html"])).json()
    assert second["supersedes"] == first["number"]
    old = (await reports.get(f"/v1/reports/{first['number']}/verification")).json()
    assert (old["status"], old["superseded_by"]) == ("superseded", second["number"])
    page = await reports.get("/verify", params={"number": first["number"]})
    assert "已被新报告取代" in page.text


async def test_replay_of_the_topics_gives_the_same_report_content(
    reports: httpx.AsyncClient, scenario: Scenario, stack_env: dict[str, str]
) -> None:
    engine: AsyncEngine = reports.app.state.engine  # type: ignore[attr-defined]
    ctx = reports.app.state.reports  # type: ignore[attr-defined]
    settings = ReportsSettings()
    schema = f"reports_replay_{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(migrate_schema, schema, settings.database_url)
    applied = await rebuild(engine, schema, settings, subjects=[scenario.code])
    assert applied > 10

    views = []
    for s in (ctx.schema, schema):
        async with engine.connect() as conn:
            records, outcomes = await store.files_of(conn, s, [scenario.code])
        for audience in ("public", "department"):
            for as_of in ("2026-10-20", "2026-11-20"):
                views.append(
                    credit_view(
                        scenario.code,
                        records[scenario.code],
                        outcomes.get(scenario.code, []),
                        as_of=__import__("datetime").date.fromisoformat(as_of),
                        audience=audience,  # type: ignore[arg-type]
                        catalogue=ctx.catalogue,
                        matter="public_tender",
                    )
                )
    assert views[:4] == views[4:]
    assert views[0] != views[1]  # a month earlier the objection and repair were not known


async def test_batch_check_of_1000_codes_has_one_number_and_counts_on_the_scorecard(
    reports: httpx.AsyncClient, tokens: dict[str, str], scenario: Scenario
) -> None:
    codes = [scenario.code, *(factories.uscc() for _ in range(999))]
    before = (await reports.get("/v1/scorecard", params={"month": "2026-11"}, headers=bearer(tokens, "COUNTY"))).json()

    response = await reports.post(
        "/v1/checks:batch",
        json={"matter": "public_tender", "codes": codes, "purpose": "示范县某道路工程招标 投标人资格审查"},
        headers=bearer(tokens, "HOUSING"),
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["number"].startswith("XYHC-20261120-")
    assert len(body["answers"]) == 1000
    first = body["answers"][0]
    assert (first["code"], first["result"], first["name"]) == (scenario.code, "attention", scenario.name)
    assert first["lists"] == [{"list": "经营异常名录", "department": "AMR", "since": "2026-07-01"}]
    assert body["counts"] == {"attention": 1, "unknown": 999}
    filed = await reports.get(f"/v1/checks/{body['number']}", headers=bearer(tokens, "HOUSING"))
    assert filed.json()["answers"] == body["answers"]
    assert (await reports.get(f"/v1/checks/{body['number']}", headers=bearer(tokens, "AMR"))).status_code == 403
    after = (await reports.get("/v1/scorecard", params={"month": "2026-11"}, headers=bearer(tokens, "COUNTY"))).json()
    housing_before = before["departments"].get("HOUSING", {"checks": 0, "codes_checked": 0})
    assert after["departments"]["HOUSING"]["checks"] == housing_before["checks"] + 1
    assert after["departments"]["HOUSING"]["codes_checked"] == housing_before["codes_checked"] + 1000
    assert after["departments"]["HOUSING"]["reports"] >= 1
    assert (
        await reports.get("/v1/scorecard", params={"month": "2026-11"}, headers=bearer(tokens, "AMR"))
    ).status_code == 403


async def test_bad_input_is_refused_with_pointers(
    reports: httpx.AsyncClient, tokens: dict[str, str], scenario: Scenario
) -> None:
    unknown_matter = await issue(reports, tokens, scenario.code, matter="party")
    assert unknown_matter.status_code == 422
    error = unknown_matter.json()["errors"][0]
    assert (error["path"], error["code"]) == ("/body/matter", "unknown_matter")
    assert "public_tender（招标投标及公共资源交易）" in error["message"]

    future = await issue(reports, tokens, scenario.code, as_of="2026-11-21")
    assert (future.status_code, future.json()["errors"][0]["path"]) == (422, "/body/as_of")

    stranger = factories.uscc()
    unknown = await issue(reports, tokens, stranger)
    assert (unknown.status_code, unknown.json()["errors"][0]["code"]) == (404, "unknown_subject")
    assert "请核对统一社会信用代码" in unknown.json()["errors"][0]["message"]
    bad_code = await issue(reports, tokens, stranger[:17] + ("0" if stranger[17] != "0" else "1"))
    assert (bad_code.status_code, bad_code.json()["errors"][0]["code"]) == (422, "invalid_code")

    person = await reports.post(f"/v1/subjects/{factories.citizen_id()}/reports", json={})
    assert (person.status_code, person.json()["errors"][0]["code"]) == (403, "natural_person")
    assert (
        await reports.post("/v1/reports", json={"code": scenario.code, "matter": "public_tender"})
    ).status_code == 401

    too_many = await reports.post(
        "/v1/checks:batch",
        json={"matter": "public_tender", "codes": [factories.uscc() for _ in range(1001)]},
        headers=bearer(tokens, "HOUSING"),
    )
    assert (too_many.status_code, too_many.json()["errors"][0]["code"]) == (422, "too_many")


async def test_public_report_issue_is_rate_limited_per_address(reports: httpx.AsyncClient, scenario: Scenario) -> None:
    """The test client is not on loopback for the limiter (an ASGI client has no IP): its own bucket."""
    transport = httpx.ASGITransport(app=reports.app, client=("203.0.113.7", 4000))  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url="http://reports") as outsider:
        answers = [
            (await outsider.post(f"/v1/subjects/{scenario.code}/reports", json={"formats": ["html"]})).status_code
            for _ in range(ReportsSettings().public_report_burst + 5)  # a token comes back every 2 s
        ]
    burst = ReportsSettings().public_report_burst
    assert answers[:burst] == [201] * burst
    assert 429 in answers[burst:]
