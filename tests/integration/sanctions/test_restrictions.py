"""应查必查 through the sanctions API: a listing by one department restricts the subject at the others, as
the measure list says — and nothing the list does not say (DOMAIN §6)."""

from __future__ import annotations

import httpx
import orjson

from deploy.stack import Stack
from tests import factories
from tests.helpers import find_on_topic, header
from tests.integration.sanctions.support import (
    EVERY_LISTING_DEPARTMENT,
    bearer,
    cases_of,
    court_listing,
    measure_ids,
    red_list,
    report,
    restrictions,
    serious_listing,
    wait_case,
)


async def test_serious_listing_restricts_procurement_at_the_implementing_departments(
    ingest: httpx.AsyncClient, sanctions: httpx.AsyncClient, tokens: dict[str, str], stack: Stack
) -> None:
    code = factories.uscc()
    listing = serious_listing(code)
    await report(ingest, tokens, listing)
    case = await wait_case(sanctions, tokens, code, lambda c: c["state"] == "open", "the listing's case")

    assert case["trigger"] == {
        "kind": "serious_untrustworthy_listing",
        "department": "HOUSING",
        "record_id": listing["id"],
    }
    assert [i["department"] for i in case["instructions"]] == EVERY_LISTING_DEPARTMENT
    procurement = {m["measure_id"]: m for m in case["measures"] if "government_procurement" in m["matters"]}
    assert set(procurement) == {"M-GF33-ADM-09", "M-BX17-ADM-02"}
    assert {d for m in procurement.values() for d in m["implementing_departments"]} == {"DRC", "HOUSING"}
    drc = next(i for i in case["instructions"] if i["department"] == "DRC")
    assert {"M-GF33-ADM-09", "M-BX17-ADM-02"} <= {m["measure_id"] for m in drc["measures"]}

    answer = await restrictions(sanctions, tokens, code, "government_procurement", who="HOUSING")
    assert answer["restricted"] is True
    assert answer["suspended"] is False
    assert measure_ids(answer) == {"M-GF33-ADM-09", "M-BX17-ADM-02"}
    basis = next(m for m in answer["measures"] if m["measure_id"] == "M-GF33-ADM-09")
    assert basis["legal_basis"] == {"document": "国发〔2016〕33号", "provision": "三（十）"}
    assert basis["kind"] == "mandatory"
    assert basis["case_id"] == case["case_id"]
    assert (basis["since"], basis["until"]) == ("2026-11-02", "2029-11-01")

    # The instruction reached the implementing department on the outcome topic, with its legal basis.
    message = await find_on_topic(
        stack.bootstrap,
        f"{stack.config.topic_prefix}outcomes.sanctions",
        lambda m: (
            header(m, "ce_type") == "cn.credit.sanction.instruction"
            and m.key == code.encode()
            and orjson.loads(m.value or b"{}")["department"] == "DRC"
        ),
    )
    instruction = orjson.loads(message.value or b"{}")
    assert instruction["case_id"] == case["case_id"]
    assert instruction["instruction_id"] == f"{case['case_id']}:DRC"
    assert {"document": "国发〔2016〕33号", "provision": "三（十）"} in instruction["legal_basis"]


async def test_listing_does_not_restrict_matters_outside_its_measures(
    ingest: httpx.AsyncClient, sanctions: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = factories.uscc()
    await report(ingest, tokens, serious_listing(code))
    await wait_case(sanctions, tokens, code, lambda c: c["state"] == "open", "the listing's case")

    for matter in ("military_service", "customs", "travel", "consumption"):  # travel/consumption: 有履行能力 not stated
        answer = await restrictions(sanctions, tokens, code, matter)
        assert (answer["restricted"], answer["measures"]) == (False, []), matter
    inspection = await restrictions(sanctions, tokens, code, "inspection")
    assert inspection["restricted"] is False  # 列为重点监管对象 is strict review: listed, not a restriction
    # and the county composite evaluation's 差 band the listing brings (−40: 003 L59, county-composite.yaml)
    assert measure_ids(inspection) == {"M-GF33-ADM-01", "M-HXXY-EVL-01"}


async def test_measures_honour_subject_kind_and_condition(
    ingest: httpx.AsyncClient, sanctions: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    company, person = factories.uscc(), factories.citizen_id("19850312")
    refusing, unable = factories.citizen_id("19790101"), factories.citizen_id("19900101")
    defaulter = factories.uscc()
    await report(ingest, tokens, serious_listing(company))
    await report(ingest, tokens, court_listing(defaulter, able_but_refusing=True))
    await report(ingest, tokens, serious_listing(person, kind="natural_person"))
    await report(ingest, tokens, court_listing(refusing, kind="natural_person", able_but_refusing=True))
    await report(ingest, tokens, court_listing(unable, kind="natural_person", able_but_refusing=False))
    for code in (company, person, refusing, unable, defaulter):
        await wait_case(sanctions, tokens, code, lambda c: c["state"] == "open", f"the case of {code}")

    # 限制新增项目审批 reaches enterprises and individual businesses, not persons (subject_kinds).
    assert (await restrictions(sanctions, tokens, company, "project_approval"))["restricted"] is True
    assert (await restrictions(sanctions, tokens, person, "project_approval"))["restricted"] is False
    # 高消费 limits reach only defaulters "有履行能力而拒不履行" (conditions: able_but_refusing).
    consumption = await restrictions(sanctions, tokens, refusing, "consumption")
    assert consumption["restricted"] is True
    assert "M-GF33-MKT-04" in measure_ids(consumption)
    assert (await restrictions(sanctions, tokens, unable, "consumption"))["restricted"] is False
    # The real-estate limit reaches every court defaulter (001 L437).
    assert (await restrictions(sanctions, tokens, unable, "real_estate"))["restricted"] is True
    # A measure for persons only (担任公职) does not reach a company.
    assert (await restrictions(sanctions, tokens, refusing, "public_office"))["restricted"] is True
    assert (await restrictions(sanctions, tokens, defaulter, "public_office"))["restricted"] is False
    assert (await restrictions(sanctions, tokens, defaulter, "consumption"))["restricted"] is True


async def test_related_person_is_restricted_where_the_measure_reaches_the_role(
    ingest: httpx.AsyncClient, sanctions: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = factories.uscc()
    representative, responsible = factories.citizen_id("19700505"), factories.citizen_id("19750606")
    listing = serious_listing(code, persons=[("法定代表人", representative), ("其他直接责任人员", responsible)])
    await report(ingest, tokens, listing)
    case = await wait_case(sanctions, tokens, code, lambda c: c["state"] == "open", "the listing's case")

    entry = await restrictions(sanctions, tokens, representative, "market_entry", who="AMR")
    assert entry["restricted"] is True
    assert measure_ids(entry) == {"M-GF33-ADM-11"}
    assert entry["measures"][0]["case_id"] == case["case_id"]
    assert (await restrictions(sanctions, tokens, representative, "government_procurement"))["restricted"] is False
    assert (await restrictions(sanctions, tokens, responsible, "honours"))["restricted"] is False  # 001 L367
    assert (await restrictions(sanctions, tokens, factories.citizen_id(), "market_entry"))["restricted"] is False

    amr = next(i for i in case["instructions"] if i["department"] == "AMR")
    told = {p["id_number"]: p for p in amr["related_persons"]}
    assert told[representative]["role"] == "法定代表人"
    assert "M-GF33-ADM-11" in told[representative]["measure_ids"]

    defaulter, controller = factories.uscc(), factories.citizen_id("19660707")
    await report(
        ingest, tokens, court_listing(defaulter, able_but_refusing=False, persons=[("实际控制人", controller)])
    )
    await wait_case(sanctions, tokens, defaulter, lambda c: c["state"] == "open", "the defaulter's case")
    assert (await restrictions(sanctions, tokens, controller, "real_estate"))["restricted"] is True


async def test_red_list_subject_gets_rewards_and_no_restriction(
    ingest: httpx.AsyncClient, sanctions: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = factories.uscc()
    await report(ingest, tokens, red_list(code))
    case = await wait_case(sanctions, tokens, code, lambda c: c["state"] == "open", "the red-list case")
    assert case["nature"] == "reward"

    licensing = await restrictions(sanctions, tokens, code, "administrative_licensing", who="AMR")
    assert (licensing["restricted"], licensing["measures"]) == (False, [])
    assert {"R-GF33-ADM-01", "R-GF33-ADM-02", "R-BX17-ADM-01"} <= measure_ids(licensing, "rewards")
    tender = await restrictions(sanctions, tokens, code, "public_tender")
    assert "R-GF33-ADM-04" in measure_ids(tender, "rewards")


async def test_unknown_matter_is_refused_with_the_matters_of_the_list(
    sanctions: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    response = await sanctions.get(
        f"/v1/subjects/{factories.uscc()}/restrictions", params={"matter": "parking"}, headers=bearer(tokens, "TAX")
    )
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["path"], error["code"]) == ("/query/matter", "unknown_matter")
    assert "government_procurement" in error["message"]


async def test_checks_need_a_token(sanctions: httpx.AsyncClient) -> None:
    response = await sanctions.get(f"/v1/subjects/{factories.uscc()}/restrictions?matter=honours")
    assert response.status_code == 401


async def test_every_check_is_logged_with_who_whom_matter_and_answer(
    ingest: httpx.AsyncClient, sanctions: httpx.AsyncClient, tokens: dict[str, str], stack: Stack
) -> None:
    code = factories.uscc()
    await report(ingest, tokens, serious_listing(code))
    await wait_case(sanctions, tokens, code, lambda c: c["state"] == "open", "the listing's case")
    await restrictions(sanctions, tokens, code, "public_tender", who="HOUSING", purpose="示住建招〔2026〕0200 资格审查")

    message = await find_on_topic(
        stack.bootstrap,
        f"{stack.config.topic_prefix}audit.access",
        lambda m: (
            header(m, "ce_type") == "cn.credit.audit.access"
            and m.key == code.encode()
            and orjson.loads(m.value or b"{}")["what"] == "restrictions:public_tender"
        ),
    )
    logged = orjson.loads(message.value or b"{}")
    assert (logged["department"], logged["answer"]) == ("HOUSING", "restricted")
    assert logged["purpose"] == "示住建招〔2026〕0200 资格审查"

    response = await sanctions.get("/v1/checks", params={"code": code}, headers=bearer(tokens, "COUNTY"))
    assert response.status_code == 200
    (check,) = response.json()["checks"]
    assert (check["department"], check["matter"], check["answer"]) == ("HOUSING", "public_tender", "restricted")
    assert check["on_date"] == "2026-11-20"
    mine = await sanctions.get("/v1/checks", params={"code": code}, headers=bearer(tokens, "TAX"))
    assert mine.json()["checks"] == []  # a department sees its own checks only

    assert await cases_of(sanctions, tokens, code, who="COURT") == []  # 法院 implements no measure of this case


async def test_person_bans_reach_only_the_roles_their_source_names_for_a_fixed_term(
    ingest: httpx.AsyncClient, sanctions: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    code = factories.uscc()
    representative, responsible = factories.citizen_id("19710505"), factories.citizen_id("19760606")
    persons = [("法定代表人", representative), ("其他直接责任人员", responsible)]
    await report(ingest, tokens, serious_listing(code, period_end=None, persons=persons))  # listed with no end
    await wait_case(sanctions, tokens, code, lambda c: c["state"] == "open", "the listing's case")

    entry = await restrictions(sanctions, tokens, representative, "market_entry", who="AMR")
    assert entry["restricted"] is True
    assert [(m["measure_id"], m["until"]) for m in entry["measures"]] == [("M-GF33-ADM-11", "2029-11-01")]  # 001 L622
    later = await restrictions(sanctions, tokens, representative, "market_entry", who="AMR", on="2029-11-02")
    assert later["restricted"] is False
    assert (await restrictions(sanctions, tokens, code, "market_entry", on="2029-11-02"))["restricted"] is False
    # 001 L367 reaches 负有直接责任的注册执业人员 / 董事、股东, not every 其他直接责任人员.
    for matter in ("market_entry", "honours"):
        answer = await restrictions(sanctions, tokens, responsible, matter)
        assert (answer["restricted"], answer["measures"]) == (False, [])
