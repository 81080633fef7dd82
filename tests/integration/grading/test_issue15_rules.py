"""Issue 15, grading side, through ingest → grading (`GET /v1/subjects/{code}/grade`), with catalogue v1
records (what ingest accepts today): light records under benxi-2017, the revoked business licence and the
two confiscations under chongqing-amr, records without a legally effective document, and a national repair
of a D that chongqing never repairs. The pure rules, v2 included, are in tests/unit/test_grading_rules.py.

Today is 2026-11-20 (the session clock).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests import factories
from tests.integration.grading.support import (
    NAMES,
    company,
    grade_when,
    mentions,
    penalty,
    registration,
    repair_approval,
    report,
)

pytestmark = pytest.mark.usefixtures("grading")
BENXI = {"rule_set": "benxi-2017"}


def _amr(record_type: str, code: str, decided: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": factories.record_id("AMR"),
        "type": record_type,
        "version": 1,
        "subject": {"kind": "legal_person", "code": code, "name": NAMES["legal_person"]},
        "decision_date": decided,
        "data": data | {"decision_date": decided},
    }


def watch_listing(code: str, decided: str, *, document_no: str | None) -> dict[str, Any]:
    """重点关注名单 列入 (v1: document_no optional)."""
    data = {"action": "列入", "list_name": "食品安全重点关注对象名单", "domain": "食品药品"}
    data |= {"reason": "一年内两次抽检不合格", "basis": "《某县重点关注名单管理办法》", "measures": "增加抽查频次"}
    data |= {"authority": "某县市场监督管理局", "authority_uscc": factories.authority_code()}
    if document_no is not None:
        data["document_no"] = document_no
    return _amr("watch_list", code, decided, data)


def broken_commitment(code: str, decided: str) -> dict[str, Any]:
    """信用承诺 违诺 (v1 has no document number)."""
    data = {"commitment_kind": "容缺受理型", "event": "违诺", "commitment_no": "CN-2026-0042"}
    data |= {"matter": "食品经营许可", "breach_details": "逾期未补齐材料"}
    data |= {"accepting_authority": "某县市场监督管理局", "accepting_authority_uscc": factories.authority_code()}
    return _amr("credit_commitment", code, decided, data)


def reward(code: str, decided: str) -> dict[str, Any]:
    """行政奖励: 优良信誉信息 under benxi (004 L41)."""
    data = {"act_kind": "行政奖励", "act_name": "授予守合同重信用企业称号", "document_no": "某市监奖〔2026〕1号"}
    data |= {"content": "通报表扬", "basis": "《某某办法》", "authority": "某县市场监督管理局"}
    data |= {"authority_uscc": factories.authority_code()}
    return _amr("administrative_action", code, decided, data)


# -- defect 1: light records do not make benxi C -----------------------------------------------------


async def test_warning_alone_does_not_make_benxi_c(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = company()
    warned = penalty(code, "2026-11-02", "警告")
    await report(ingest, tokens, warned)
    body = await grade_when(grading, tokens, code, mentions(warned["id"]), **BENXI)
    assert body["grade"] == "B"
    assert "轻微" in body["reason"]
    assert "49号" in body["explanation"][0]["rule"]


async def test_watch_list_entry_does_not_make_benxi_c(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = company()
    awarded, watched = (
        reward(code, "2026-10-01"),
        watch_listing(code, "2026-11-02", document_no="某市监关注〔2026〕2号"),
    )
    await report(ingest, tokens, awarded, watched)
    body = await grade_when(grading, tokens, code, mentions(awarded["id"], watched["id"]), **BENXI)
    assert body["grade"] == "B"  # bars A, never C
    effects = {item["record_id"]: item["effect"] for item in body["explanation"]}
    assert effects[watched["id"]].startswith("B")


# -- defect 5: no legally effective document, no adverse effect --------------------------------------


async def test_watch_list_entry_without_document_does_not_count_against_the_subject(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = company()
    awarded, watched = reward(code, "2026-10-01"), watch_listing(code, "2026-11-02", document_no=None)
    await report(ingest, tokens, awarded, watched)
    body = await grade_when(grading, tokens, code, mentions(awarded["id"], watched["id"]), **BENXI)
    assert body["grade"] == "A"
    note = next(item for item in body["explanation"] if item["record_id"] == watched["id"])
    assert "001 L646" in note["rule"]
    assert note["effect"].startswith("不计入")


async def test_broken_commitment_without_document_does_not_count_against_the_subject(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = company()
    awarded, broken = reward(code, "2026-10-01"), broken_commitment(code, "2026-11-02")
    await report(ingest, tokens, awarded, broken)
    body = await grade_when(grading, tokens, code, mentions(awarded["id"], broken["id"]), **BENXI)
    assert body["grade"] == "A"


# -- defect 3: only revoking the business licence is D ------------------------------------------------


async def test_suspended_business_licence_is_not_d(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    suspending, revoking = company(), company()
    suspended = penalty(suspending, "2026-11-02", "暂扣许可证件", "吊销许可证件")
    suspended["data"]["CF_NR_ZKDX"] = "暂扣营业执照三个月；吊销食品经营许可证（JY15001010000123）"
    revoked = penalty(revoking, "2026-11-02", "暂扣许可证件", "吊销许可证件")
    revoked["data"]["CF_NR_ZKDX"] = "暂扣食品经营许可证；吊销营业执照"
    await report(ingest, tokens, suspended, revoked)
    body = await grade_when(grading, tokens, suspending, mentions(suspended["id"]))
    assert (body["grade"], body["next_review"]) == ("B", "2027-11-03")
    body = await grade_when(grading, tokens, revoking, mentions(revoked["id"]))
    assert (body["grade"], body["next_review"]) == ("D", None)  # revoking it, item by item, still is D


# -- defect 4: confiscations are never summed ---------------------------------------------------------


async def test_confiscations_are_not_summed_in_v1(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = company()
    both = penalty(code, "2026-11-02", "没收违法所得", "没收非法财物")
    both["data"]["CF_NR_WFFF"] = 5  # 2.5 万 + 2.5 万, reported as their total
    await report(ingest, tokens, both)
    body = await grade_when(grading, tokens, code, mentions(both["id"]))
    assert body["grade"] == "B"
    assert all("一半" in item["rule"] for item in body["explanation"])


# -- defect 10: a national repair does not erase a never-repairable D ---------------------------------


async def test_never_repairable_d_stays_d_after_repair(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = company()
    registered = registration(code, "2026-01-05")
    revoked = penalty(code, "2026-07-01", "吊销许可证件")  # CF_NR_ZKDX names the 营业执照
    await report(ingest, tokens, registered, revoked)
    before = await grade_when(grading, tokens, code, mentions(registered["id"], revoked["id"]))
    assert (before["grade"], before["supervision_level"]) == ("D", "IV")

    await report(ingest, tokens, repair_approval(revoked, "2026-11-18"))

    def repair_seen(body: dict[str, Any]) -> bool:
        return any("信用修复不改变" in item["effect"] for item in body["explanation"])

    body = await grade_when(grading, tokens, code, repair_seen)
    assert (body["grade"], body["since"], body["next_review"]) == ("D", "2026-07-01", None)
    assert body["supervision_level"] == "IV"  # not exempt from patrol (level Ⅰ)
