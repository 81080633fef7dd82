"""Records the grading rules read (registration, amendments), and talking to ingest and grading over HTTP."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import httpx

from tests import factories
from tests.helpers import eventually

LABELS = {"legal_person": "法人及非法人组织", "individual_business": "个体工商户"}
NAMES = {"legal_person": "重庆某某商贸有限公司", "individual_business": "示范县某某面馆"}


def bearer(tokens: dict[str, str], who: str = "COUNTY") -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['TOKEN_' + who]}"}


def company(kind: str = "legal_person") -> str:
    """A fresh credit code: 91… for a company, 92… for an individual business (个体工商户)."""
    return factories.uscc("92" if kind == "individual_business" else "91")


def penalty(code: str, decided: str, *categories: str, kind: str = "legal_person", **kw: Any) -> dict[str, Any]:
    return factories.penalty(
        code=code, kind=kind, name=NAMES.get(kind, "王某某"), categories=categories, decision_date=decided, **kw
    )


def registration(
    code: str,
    decided: str,
    *,
    event: str = "设立",
    kind: str = "legal_person",
    established: str = "2019-07-02",
    industry: str = "一般行业",
    region: str = "一般监管区域",
) -> dict[str, Any]:
    """登记注册基础信息 (AMR): establishment date, industry risk and region class, 停业 / 恢复营业."""
    data: dict[str, Any] = {
        "event": event,
        "name": NAMES[kind],
        "subject_category": LABELS[kind],
        "entity_type": "个体工商户" if kind == "individual_business" else "有限责任公司（自然人投资或控股）",
        "legal_representative": "张三",
        "establishment_date": established,
        "industry_code": "F5221",
        "industry_name": "百货零售",
        "industry_risk": industry,
        "region_class": region,
        "registration_authority": "某县市场监督管理局",
        "registration_authority_uscc": factories.authority_code(),
        "decision_date": decided,
    }
    if event == "变更":
        data["changed_items"] = ["行业"]
    return _envelope("subject_registration", code, kind, decided, data)


def revocation(target: dict[str, Any], decided: str) -> dict[str, Any]:
    """记录撤销 of an earlier record of the same department (行政复议 overturned it)."""
    data = {
        "target_record_id": target["id"],
        "reason_kind": "行政复议",
        "reason": "行政复议机关撤销原处罚决定。",
        "document_no": "示府复〔2026〕9号",
        "decision_date": decided,
    }
    subject = target["subject"]
    return _envelope("record_revocation", subject["code"], subject["kind"], decided, data, subject["name"])


def repair_approval(target: dict[str, Any], decided: str) -> dict[str, Any]:
    """信用修复决定 准予修复 of an earlier record of the same department (谁认定、谁修复)."""
    data = {
        "repair_id": "REP-20261118-5E6F7A8B",
        "target_record_id": target["id"],
        "decision": "准予修复",
        "explanation": "罚款已缴清，已作出信用承诺，准予修复。",
        "decision_date": decided,
    }
    subject = target["subject"]
    return _envelope("repair_decision", subject["code"], subject["kind"], decided, data, subject["name"])


def correction(target: dict[str, Any], decided: str, **changes: Any) -> dict[str, Any]:
    """记录更正: the target's data with `changes` applied (as if it had been right from the start)."""
    corrected = copy.deepcopy(target["data"]) | changes
    data = {
        "target_record_id": target["id"],
        "reason_kind": "行政复议",
        "reason": "行政复议机关变更原处罚决定的罚款金额。",
        "document_no": "示府复〔2026〕7号",
        "changed_fields": sorted(changes),
        "corrected_data": corrected,
        "decision_date": decided,
    }
    subject = target["subject"]
    return _envelope("record_correction", subject["code"], subject["kind"], decided, data, subject["name"])


def _envelope(
    record_type: str, code: str, kind: str, decided: str, data: dict[str, Any], name: str | None = None
) -> dict[str, Any]:
    return {
        "id": factories.record_id("AMR"),
        "type": record_type,
        "version": 1,
        "subject": {"kind": kind, "code": code, "name": name or NAMES[kind]},
        "decision_date": decided,
        "data": data,
    }


async def report(ingest: httpx.AsyncClient, tokens: dict[str, str], *records: dict[str, Any]) -> None:
    for record in records:
        who = record["id"].split("-")[0]
        response = await ingest.post("/v1/records", json=record, headers=bearer(tokens, who))
        assert response.status_code == 202, response.text


async def read_grade(
    grading: httpx.AsyncClient, tokens: dict[str, str], code: str, who: str = "COUNTY", **params: str
) -> httpx.Response:
    return await grading.get(f"/v1/subjects/{code}/grade", params=params, headers=bearer(tokens, who))


async def grade_when(
    grading: httpx.AsyncClient,
    tokens: dict[str, str],
    code: str,
    check: Callable[[dict[str, Any]], bool],
    **params: str,
) -> dict[str, Any]:
    """The grade API's answer once `check` holds for it (records reach grading asynchronously)."""

    async def answered() -> dict[str, Any] | None:
        response = await read_grade(grading, tokens, code, **params)
        if response.status_code != 200:
            return None
        body: dict[str, Any] = response.json()
        return body if check(body) else None

    return await eventually(answered, what=f"the grade of {code} with {params or 'defaults'} to satisfy the check")


def mentions(*record_ids: str) -> Callable[[dict[str, Any]], bool]:
    """Check: the grade's explanation names every one of these records (they have been consumed)."""
    return lambda body: set(record_ids) <= {item["record_id"] for item in body["explanation"]}
