"""The grade API (API.md "Grading") over records reported through ingest: the rules of DOMAIN §5 at their
boundaries, for companies and individual businesses, under both rule sets, as of any date.

Today is 2026-11-20 (the session clock). A period of one year after day D ends on the same month and day
a year later, so a penalty of 2026-11-02 counts through 2027-11-02 and is repaired on 2027-11-03.
"""

from __future__ import annotations

import httpx
import pytest

from tests import factories
from tests.integration.grading.support import (
    company,
    correction,
    grade_when,
    mentions,
    penalty,
    read_grade,
    registration,
    repair_approval,
    report,
    revocation,
)

pytestmark = pytest.mark.usefixtures("grading")


# -- chongqing-amr (the jurisdiction's default): amounts at the threshold --------------------------------


@pytest.mark.parametrize(
    ("kind", "fine", "grade"),
    [
        ("legal_person", 3, "B"),
        ("legal_person", 3.000001, "C"),
        ("individual_business", 0.1, "B"),
        ("individual_business", 0.100001, "C"),
    ],
    ids=[
        "company-fine-exactly-30000-yuan-is-B",
        "company-fine-30000.01-yuan-is-C",
        "individual-business-fine-exactly-1000-yuan-is-B",
        "individual-business-fine-1000.01-yuan-is-C",
    ],
)
async def test_fine_is_compared_with_the_threshold_of_the_subject_kind(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str], kind: str, fine: float, grade: str
) -> None:
    code = company(kind)
    record = penalty(code, "2026-11-02", "罚款", kind=kind, fine=fine)
    await report(ingest, tokens, record)
    body = await grade_when(grading, tokens, code, mentions(record["id"]))
    assert (body["grade"], body["since"], body["next_review"]) == (grade, "2026-11-02", "2027-11-03")
    assert body["rule_set"] == "chongqing-amr"
    assert body["subject_kind"] == kind
    assert body["as_of"] == "2026-11-20"
    (item,) = body["explanation"]
    assert item["record_id"] == record["id"]
    assert item["department"] == "AMR"
    assert item["effect"].startswith(grade)


async def test_company_with_no_penalty_is_a_since_establishment_with_its_supervision_level(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = company()
    record = registration(code, "2026-03-02", industry="公众聚集场所", established="2026-03-02")
    await report(ingest, tokens, record)
    body = await grade_when(grading, tokens, code, mentions(record["id"]))
    assert (body["grade"], body["since"], body["next_review"]) == ("A", "2026-03-02", None)
    assert body["supervision_level"] == "II"  # A × 公众聚集场所 × 一般监管区域 (000 L265-L267)


@pytest.mark.parametrize("kind", ["legal_person", "individual_business"])
async def test_order_to_suspend_business_is_d_until_one_year_after_business_resumes(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str], kind: str
) -> None:
    code = company(kind)
    suspended = penalty(code, "2026-10-01", "责令停产停业", kind=kind)
    resumed = registration(code, "2026-11-15", event="恢复营业", kind=kind)
    await report(ingest, tokens, registration(code, "2026-10-02", event="停业", kind=kind), suspended, resumed)
    today = await grade_when(grading, tokens, code, mentions(suspended["id"], resumed["id"]))
    assert (today["grade"], today["since"], today["next_review"]) == ("D", "2026-10-01", "2027-11-16")
    assert today["supervision_level"] == "IV"

    before_resuming = await grade_when(grading, tokens, code, mentions(suspended["id"]), as_of="2026-11-14")
    assert (before_resuming["grade"], before_resuming["next_review"]) == ("D", None)
    last_day = await grade_when(grading, tokens, code, mentions(suspended["id"]), as_of="2027-11-15")
    assert last_day["grade"] == "D"
    repaired = await grade_when(grading, tokens, code, lambda b: True, as_of="2027-11-16")
    assert (repaired["grade"], repaired["since"], repaired["supervision_level"]) == ("A", "2027-11-16", "I")


async def test_revoked_business_licence_is_d_and_never_repaired(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = company("individual_business")
    revoked = penalty(code, "2026-11-03", "吊销许可证件", kind="individual_business")  # 营业执照 named in CF_NR_ZKDX
    await report(ingest, tokens, revoked)
    body = await grade_when(grading, tokens, code, mentions(revoked["id"]))
    assert (body["grade"], body["next_review"]) == ("D", None)
    later = await grade_when(grading, tokens, code, mentions(revoked["id"]), as_of="2036-01-01")
    assert later["grade"] == "D"


async def test_penalty_of_another_department_does_not_count_for_a_to_c(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = company()
    taxed = penalty(code, "2026-11-05", "罚款", fine=50, department="TAX")
    await report(ingest, tokens, taxed)
    body = await grade_when(grading, tokens, code, mentions(taxed["id"]))
    assert body["grade"] == "A"
    assert body["explanation"][0]["department"] == "TAX"


# -- as of a date -------------------------------------------------------------------------------------


async def test_as_of_answers_the_grade_on_that_day(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = company()
    warned = penalty(code, "2026-11-02", "警告")
    await report(ingest, tokens, warned)
    await grade_when(grading, tokens, code, mentions(warned["id"]))
    expected = {
        "2026-11-01": ("A", None, None),  # what was decided by then: nothing
        "2026-11-02": ("B", "2026-11-02", "2027-11-03"),
        "2027-11-02": ("B", "2026-11-02", "2027-11-03"),
        "2027-11-03": ("A", "2027-11-03", None),
    }
    for day, (grade, since, next_review) in expected.items():
        body = (await read_grade(grading, tokens, code, as_of=day)).json()
        assert body["as_of"] == day
        assert (body["grade"], body["since"], body["next_review"]) == (grade, since, next_review), day


async def test_malformed_as_of_is_422(grading: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    response = await read_grade(grading, tokens, company(), as_of="20-11-2026")
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "/query/as_of"


# -- corrections and revocations: as if right from the start ----------------------------------------


async def test_revoked_penalty_no_longer_counts(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = company()
    registered, fined = registration(code, "2026-01-05"), penalty(code, "2026-11-02", "罚款", fine=5)
    await report(ingest, tokens, registered, fined)
    assert (await grade_when(grading, tokens, code, mentions(registered["id"], fined["id"])))["grade"] == "C"

    await report(ingest, tokens, revocation(fined, "2026-11-18"))
    body = await grade_when(grading, tokens, code, lambda b: b["grade"] == "A")
    assert body["since"] == "2019-07-02"  # never C: the penalty was never right
    assert fined["id"] not in {item["record_id"] for item in body["explanation"]}
    before = (await read_grade(grading, tokens, code, as_of="2026-11-10")).json()
    assert before["grade"] == "A"


async def test_repaired_penalty_stops_counting_from_the_approval(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = company()
    registered, fined = registration(code, "2026-01-05"), penalty(code, "2026-07-01", "罚款", fine=5)
    await report(ingest, tokens, registered, fined)
    assert (await grade_when(grading, tokens, code, mentions(registered["id"], fined["id"])))["grade"] == "C"

    await report(ingest, tokens, repair_approval(fined, "2026-11-18"))
    body = await grade_when(grading, tokens, code, lambda b: b["grade"] == "A")
    assert body["since"] == "2026-11-18"  # C until the repair: it was right when decided
    before = (await read_grade(grading, tokens, code, as_of="2026-11-17")).json()
    assert before["grade"] == "C"


async def test_corrected_penalty_counts_as_corrected_from_the_start(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = company()
    fined = penalty(code, "2026-11-02", "罚款", fine=5)
    await report(ingest, tokens, fined)
    assert (await grade_when(grading, tokens, code, mentions(fined["id"])))["grade"] == "C"

    await report(ingest, tokens, correction(fined, "2026-11-19", CF_NR_FK=2))
    body = await grade_when(grading, tokens, code, lambda b: b["grade"] == "B")
    assert (body["since"], body["next_review"]) == ("2026-11-02", "2027-11-03")
    assert "已更正" in body["explanation"][0]["rule"]


# -- benxi-2017 on request, and subjects a rule set does not grade ------------------------------------


async def test_benxi_rule_set_can_be_asked_for(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = company()
    fined = penalty(code, "2026-11-02", "罚款", fine=12)  # 一般 (a 轻微 fine would be B under benxi: issue 15)
    await report(ingest, tokens, fined)
    chongqing = await grade_when(grading, tokens, code, mentions(fined["id"]))
    benxi = (await read_grade(grading, tokens, code, rule_set="benxi-2017")).json()
    assert (chongqing["rule_set"], chongqing["grade"]) == ("chongqing-amr", "C")
    assert (benxi["rule_set"], benxi["rule_set_version"], benxi["grade"]) == ("benxi-2017", 1, "C")
    assert benxi["next_review"] == "2027-11-03"
    assert benxi["supervision_level"] is None
    assert [item["record_id"] for item in benxi["explanation"]] == [fined["id"]]


async def test_benxi_does_not_grade_individual_businesses(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = company("individual_business")
    fined = penalty(code, "2026-11-02", "罚款", kind="individual_business", fine=0.05)
    await report(ingest, tokens, fined)
    await grade_when(grading, tokens, code, mentions(fined["id"]))
    body = (await read_grade(grading, tokens, code, rule_set="benxi-2017")).json()
    assert body["grade"] is None
    assert "个体工商户" in body["reason"]


async def test_natural_person_gets_a_null_grade_with_the_reason(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    record = factories.penalty(kind="natural_person", name="王某某", decision_date="2026-11-02", fine=10)
    code = record["subject"]["code"]
    await report(ingest, tokens, record)
    body = await grade_when(grading, tokens, code, lambda b: True)
    assert body["subject_kind"] == "natural_person"
    assert (body["grade"], body["since"], body["next_review"], body["supervision_level"]) == (None, None, None, None)
    assert body["explanation"] == []
    assert "自然人" in body["reason"]
    assert "does not grade natural persons" in body["reason"]


# -- errors ---------------------------------------------------------------------------------------------


async def test_unknown_rule_set_is_422_naming_the_known_ones(
    grading: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    response = await read_grade(grading, tokens, company(), rule_set="shanghai-2020")
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["path"], error["code"]) == ("/query/rule_set", "unknown_rule_set")
    assert "benxi-2017" in error["message"]
    assert "chongqing-amr" in error["message"]


async def test_date_before_the_rule_sets_first_version_is_422(
    grading: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    response = await read_grade(grading, tokens, company(), rule_set="benxi-2017", as_of="2017-07-09")
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["path"], error["code"]) == ("/query/as_of", "rule_set_not_in_force")
    assert "2017-07-10" in error["message"]


async def test_subject_the_exchange_knows_nothing_about_is_404(
    grading: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    response = await read_grade(grading, tokens, company())
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "unknown_subject"


async def test_rule_sets_are_listed_with_their_versions_and_the_default(
    grading: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    response = await grading.get("/v1/rule-sets", headers={"Authorization": f"Bearer {tokens['TOKEN_TAX']}"})
    assert response.status_code == 200
    body = response.json()
    assert body["default"] == "chongqing-amr"
    assert [rs["id"] for rs in body["rule_sets"]] == ["benxi-2017", "chongqing-amr"]
    benxi = body["rule_sets"][0]["versions"][0]
    assert (benxi["version"], benxi["effective_from"], benxi["subject_kinds"]) == (1, "2017-07-10", ["legal_person"])
