"""A subject with records in several departments, a list entry, a pending objection, a repaired record
and a withdrawn one — reported through ingest, objected to and repaired through publish."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests import factories
from tests.helpers import eventually
from tests.integration.publish.support import amendment, bearer, public_id, repair_decision, report, wait_shown

NAME_PREFIX = "重庆报告测试"


@dataclass(frozen=True)
class Scenario:
    code: str
    name: str
    current: dict[str, Any]  # AMR penalty, plain
    objected: dict[str, Any]  # TAX penalty with an objection pending
    repaired: dict[str, Any]  # AMR penalty, repair approved
    withdrawn: dict[str, Any]  # HOUSING penalty, revoked
    listing: dict[str, Any]  # AMR 经营异常名录 列入
    objection_id: str


async def build_scenario(
    ingest: httpx.AsyncClient, publish: httpx.AsyncClient, reports: httpx.AsyncClient, tokens: dict[str, str]
) -> Scenario:
    code = factories.uscc()
    name = f"{NAME_PREFIX}{uuid.uuid4().hex[:6]}有限公司"

    def penalty(department: str, decided: str, note: str | None = None) -> dict[str, Any]:
        record = factories.penalty(code=code, name=name, fine=20.0, decision_date=decided, department=department)
        if note:
            record["data"]["BZ"] = note
        return record

    registration = copy.deepcopy(factories.examples("subject_registration")[0])
    registration["id"] = factories.record_id("AMR")
    registration["subject"] = {"kind": "legal_person", "code": code, "name": name}
    registration["data"]["name"] = name
    current = penalty("AMR", "2026-11-02", note="内部备注：已约谈法定代表人")
    objected = penalty("TAX", "2026-10-15")
    repaired = penalty("AMR", "2026-07-01")
    withdrawn = penalty("HOUSING", "2026-09-01")
    listing = factories.fresh(factories.examples("abnormal_operation_listing")[0])
    listing["subject"] = {"kind": "legal_person", "code": code, "name": name}
    for record, who in (
        (registration, "AMR"),
        (current, "AMR"),
        (objected, "TAX"),
        (repaired, "AMR"),
        (withdrawn, "HOUSING"),
        (listing, "AMR"),
    ):
        await report(ingest, tokens, record, who)
    for record, who in ((objected, "TAX"), (repaired, "AMR"), (withdrawn, "HOUSING")):
        await wait_shown(publish, public_id(record, who))
    filed = await publish.post(
        "/v1/objections",
        json={
            "record_id": public_id(objected, "TAX"),
            "subject_code": code,
            "reason": "税款已缴清，处罚认定的事实有误。",
            "contact": "13800000000",
        },
    )
    assert filed.status_code == 201, filed.text
    objection_id = filed.json()["objection"]["objection_id"]
    applied = await publish.post(
        "/v1/repairs",
        json={
            "record_id": public_id(repaired),
            "subject_code": code,
            "commitment": "本单位承诺已纠正失信行为，今后严格遵守法律法规，如有违反愿承担相应责任。",
            "fulfilment": "罚款已于 2026-07-10 缴清（缴款书号 5001012026071000123）。",
            "contact": "13800000000",
        },
    )
    assert applied.status_code == 201, applied.text
    repair_id = applied.json()["repair"]["repair_id"]
    await report(ingest, tokens, repair_decision(repaired, repair_id, "受理"))
    await report(ingest, tokens, repair_decision(repaired, repair_id, "准予修复"))
    revocation = amendment(
        withdrawn,
        "record_revocation",
        "2026-11-10",
        reason_kind="行政复议",
        reason="行政复议机关撤销原处罚决定。",
        document_no="示府复〔2026〕9号",
    )
    await report(ingest, tokens, revocation, "HOUSING")
    scenario = Scenario(code, name, current, objected, repaired, withdrawn, listing, objection_id)

    async def complete() -> bool:
        response = await issue(reports, tokens, code, formats=["html"])
        if response.status_code == 404:
            return False  # not consumed yet
        assert response.status_code == 201, response.text
        view = response.json()["content"]["view"]
        return bool(view["objections_pending"] and view["repairs"] and view["withdrawn"] and view["lists"])

    await eventually(complete, what="the reports service to know the objection, repair, revocation and list")
    return scenario


async def issue(
    reports: httpx.AsyncClient,
    tokens: dict[str, str],
    code: str,
    *,
    who: str = "HOUSING",
    matter: str = "public_tender",
    **extra: Any,
) -> httpx.Response:
    body = {"code": code, "matter": matter, "purpose": "示范县某道路工程招标 资格审查", **extra}
    response = await reports.post("/v1/reports", json=body, headers=bearer(tokens, who))
    return response
