"""Issue 15 through ingest's HTTP API: catalogue v2 beside v1, the receipt warnings a department sees
(confiscations, legal documents, deciding authority, 认定 without notice), and the reporting clock that
ends on the next working day (民法典 Art. 203)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from services.common.catalogue import load_catalogue
from services.common.clock import SHANGHAI, FixedClock
from tests import factories
from tests.helpers import eventually

CATALOGUE = load_catalogue(factories.SCHEMAS)


def bearer(tokens: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['TOKEN_' + who]}"}


async def post(client: httpx.AsyncClient, tokens: dict[str, str], record: Any, who: str = "AMR") -> httpx.Response:
    return await client.post("/v1/records", json=record, headers=bearer(tokens, who))


def example(record_type: str, version: int, department: str, index: int = 0) -> dict[str, Any]:
    items = [e for e in factories.examples(record_type) if e["version"] == version]
    return factories.fresh(items[index], department)


def warnings_of(response: httpx.Response, code: str) -> list[dict[str, str]]:
    assert response.status_code == 202, response.text
    return [w for w in response.json()["receipt"]["warnings"] if w["code"] == code]


def about_new_company(record: dict[str, Any]) -> dict[str, Any]:
    record["subject"] = {"kind": "legal_person", "code": factories.uscc(), "name": "示范县某某建材有限公司"}
    return record


# --- catalogue v2 --------------------------------------------------------------------------------------------


async def test_v1_and_v2_of_each_changed_type_are_both_accepted(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    for record_type in ("administrative_penalty", "watch_list", "credit_commitment"):
        for version in (1, 2):
            record = example(record_type, version, "AMR")
            response = await post(ingest, tokens, record)
            assert response.status_code == 202, (record_type, version, response.text)


async def test_v2_penalty_whose_confiscation_total_is_not_the_sum_of_its_amounts_is_refused(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = example("administrative_penalty", 2, "AMR")
    record["data"]["CF_NR_WFFF"] = 5  # 1.2 + 0.8 = 2
    response = await post(ingest, tokens, record)
    assert response.status_code == 422, response.text
    (error,) = [e for e in response.json()["errors"] if e["path"] == "/data/CF_NR_WFFF"]
    assert error["code"] == "confiscation_total_mismatch"
    assert "须一致" in error["message"]


async def test_v2_licence_action_the_penalty_does_not_name_is_refused(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = example("administrative_penalty", 2, "AMR")
    record["data"]["licence_actions"][0]["action"] = "暂扣"  # 处罚类别 names 吊销许可证件 only
    response = await post(ingest, tokens, record)
    assert response.status_code == 422, response.text
    (error,) = [e for e in response.json()["errors"] if e["path"] == "/data/licence_actions/0/action"]
    assert error["code"] == "licence_action_not_named"


async def test_v2_watch_list_entry_without_its_legal_document_is_refused(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = example("watch_list", 2, "AMR")
    del record["data"]["document_kind"]
    response = await post(ingest, tokens, record)
    assert response.status_code == 422, response.text
    assert any(e["path"] == "/data/document_kind" and e["code"] == "required" for e in response.json()["errors"])


# --- item 4: v1 naming both confiscations -----------------------------------------------------------------------


async def test_v1_penalty_naming_both_confiscations_gets_a_receipt_warning_asking_for_the_split(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    both = factories.penalty(categories=("罚款", "没收违法所得", "没收非法财物"))
    one = factories.penalty(categories=("罚款", "没收违法所得"))
    (warning,) = warnings_of(await post(ingest, tokens, both), "confiscation_amounts_combined")
    assert warning["path"] == "/data/CF_NR_WFFF"
    assert "分别报送" in warning["message"]
    assert warnings_of(await post(ingest, tokens, one), "confiscation_amounts_combined") == []


# --- item 5: adverse v1 records without a legal document --------------------------------------------------------


async def test_v1_watch_list_entry_without_a_document_number_is_kept_but_does_not_count_and_the_receipt_says_why(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    undocumented = example("watch_list", 1, "AMR")
    del undocumented["data"]["document_no"]
    documented = example("watch_list", 1, "AMR")
    (warning,) = warnings_of(await post(ingest, tokens, undocumented), "no_legal_document")
    assert warning["path"] == "/data/document_no"
    assert "不作为对该主体的失信依据" in warning["message"]
    assert warnings_of(await post(ingest, tokens, documented), "no_legal_document") == []


async def test_v1_broken_commitment_without_a_document_number_does_not_count_and_the_receipt_says_why(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    breach = example("credit_commitment", 1, "AMR", index=1)
    assert breach["data"]["event"] == "违诺"
    (warning,) = warnings_of(await post(ingest, tokens, breach), "no_legal_document")
    assert warning["path"] == "/data/document_no"
    assert warnings_of(await post(ingest, tokens, example("credit_commitment", 2, "AMR")), "no_legal_document") == []


# --- item 9: the reporting clock ------------------------------------------------------------------------------


async def scorecard_row(ingest: httpx.AsyncClient, tokens: dict[str, str], month: str) -> dict[str, Any]:
    response = await ingest.get(
        "/v1/scorecard", params={"month": month, "department": "TAX"}, headers=bearer(tokens, "COUNTY")
    )
    assert response.status_code == 200, response.text
    rows = [r for r in response.json()["departments"] if r["department"] == "TAX"]
    return rows[0] if rows else {"accepted": 0, "reported_late": 0}


async def test_decision_of_24_september_reported_on_8_october_is_on_time_because_the_7th_day_was_a_holiday(
    ingest: httpx.AsyncClient, tokens: dict[str, str], at: FixedClock
) -> None:
    before = await scorecard_row(ingest, tokens, "2026-10")
    at.set(datetime(2026, 10, 8, 16, 0, tzinfo=SHANGHAI))
    on_time = await post(ingest, tokens, factories.penalty(decision_date="2026-09-24", department="TAX"), "TAX")
    at.set(datetime(2026, 10, 9, 9, 0, tzinfo=SHANGHAI))
    late = await post(ingest, tokens, factories.penalty(decision_date="2026-09-24", department="TAX"), "TAX")
    assert on_time.status_code == late.status_code == 202, (on_time.text, late.text)
    assert on_time.json()["receipt"]["reported_late"] is False
    assert late.json()["receipt"]["reported_late"] is True

    async def counted() -> dict[str, Any] | None:
        row = await scorecard_row(ingest, tokens, "2026-10")
        return row if row["accepted"] - before["accepted"] >= 2 else None

    after = await eventually(counted, timeout=15, what="both records on the October scorecard")
    assert (after["accepted"] - before["accepted"], after["reported_late"] - before["reported_late"]) == (2, 1)


# --- item 14: the deciding authority ---------------------------------------------------------------------------


async def test_deciding_authority_that_is_not_one_of_the_departments_codes_gets_a_receipt_warning(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    amr = CATALOGUE.departments["AMR"]
    foreign = factories.penalty()
    foreign["data"]["CF_CFJGDM"] = CATALOGUE.departments["TAX"].uscc
    own = factories.penalty()
    own["data"]["CF_CFJGDM"] = amr.uscc
    sub_office = factories.penalty()
    sub_office["data"]["CF_CFJGDM"] = amr.other_codes[0]
    licence = factories.licensing()
    licence["data"]["XK_XKJGDM"] = CATALOGUE.departments["HOUSING"].uscc

    (warning,) = warnings_of(await post(ingest, tokens, foreign), "authority_not_department")
    assert warning["path"] == "/data/CF_CFJGDM"
    assert "不是报送部门 AMR" in warning["message"]
    assert warnings_of(await post(ingest, tokens, own), "authority_not_department") == []
    assert warnings_of(await post(ingest, tokens, sub_office), "authority_not_department") == []
    (warning,) = warnings_of(await post(ingest, tokens, licence), "authority_not_department")
    assert warning["path"] == "/data/XK_XKJGDM"


# --- objections: a 认定 without an earlier 拟列入告知 -----------------------------------------------------------


def listing(stage_index: int, code: str, department: str = "HOUSING") -> dict[str, Any]:
    record = example("serious_untrustworthy_listing", 1, department, index=stage_index)
    record["subject"] = {"kind": "legal_person", "code": code, "name": "示范县某某建材有限公司"}
    return record


async def test_listing_with_no_earlier_notice_for_the_subject_gets_a_receipt_warning(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    alone = listing(1, factories.uscc())
    (warning,) = warnings_of(await post(ingest, tokens, alone, "HOUSING"), "no_prior_notice")
    assert warning["path"] == "/data/stage"
    assert "拟列入告知" in warning["message"]

    told = factories.uscc()
    assert warnings_of(await post(ingest, tokens, listing(0, told), "HOUSING"), "no_prior_notice") == []
    assert warnings_of(await post(ingest, tokens, listing(1, told), "HOUSING"), "no_prior_notice") == []


async def test_a_notice_of_another_department_does_not_stand_for_the_listing_departments_own(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = factories.uscc()
    assert (await post(ingest, tokens, listing(0, code, "AMR"), "AMR")).status_code == 202
    assert len(warnings_of(await post(ingest, tokens, listing(1, code), "HOUSING"), "no_prior_notice")) == 1


async def test_a_notice_earlier_in_the_same_batch_counts(ingest: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    code = factories.uscc()
    response = await ingest.post(
        "/v1/records:batch",
        json={"records": [listing(0, code), listing(1, code)]},
        headers=bearer(tokens, "HOUSING"),
    )
    assert response.status_code == 207, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [202, 202]
    assert not [w for w in results[1]["receipt"]["warnings"] if w["code"] == "no_prior_notice"]


# --- item 13 (ingest part): the birth date --------------------------------------------------------------------


async def test_a_birth_date_that_contradicts_the_citizen_id_is_refused(
    ingest: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = factories.citizen_id("20100315")
    person = factories.penalty(kind="natural_person", code=code, name="王小明")
    person["subject"]["birth_date"] = "2010-03-16"
    response = await post(ingest, tokens, person)
    assert response.status_code == 422, response.text
    assert any(e["path"] == "/subject/birth_date" for e in response.json()["errors"])
    person["subject"]["birth_date"] = "2010-03-15"
    assert (await post(ingest, tokens, person)).status_code == 202
