"""Pure rules of the sanctions service (DOMAIN §6): the measure list, triggers, cases, restriction answers."""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import yaml

from services.common.catalogue import default_schemas_dir, load_catalogue
from services.common.clock import SHANGHAI
from services.common.records import AcceptedRecord
from services.grading.rules import load_rule_sets, rule_set_version_for
from services.grading.rules.model import BenxiRules
from services.sanctions.rules import (
    Case,
    CaseState,
    Measure,
    MeasureList,
    MeasureListError,
    applicable_measures,
    case_state,
    default_measures_path,
    derived_trigger,
    instructions_for,
    lift_reason,
    load_measure_list,
    measure_until,
    open_case,
    parse_measure_list,
    related_person_restrictions,
    restriction_answer,
    trigger_history,
    triggers_of,
)
from services.sanctions.rules.clean_record import ADVERSE_RULE_SET, clean_record_trigger, clean_since
from services.sanctions.rules.derive import GradeChange, Objection, derive_cases, grade_triggers
from tests.factories import examples

COMPANY = "915001012031456727"  # 示范县恒达建材有限公司 in the schema examples
LEGAL_REP = "500101196802155715"  # its 法定代表人 张伟
OTHER_PERSON = "500101199211203627"  # 陈静, 其他直接责任人员 in the serious listing
FEEDBACK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")  # sanction_feedback v1 case_id / instruction_id
DEPARTMENTS = ("AMR", "TAX", "COURT", "HOUSING", "DRC")


@pytest.fixture(scope="module")
def measure_list() -> MeasureList:
    catalogue = load_catalogue(default_schemas_dir())
    return load_measure_list(default_measures_path(), departments=catalogue.departments)


def accepted(record: Mapping[str, Any], *, department: str | None = None, seq: int = 1) -> AcceptedRecord:
    """An accepted record as ingest would publish it (receipt reduced to what the rules read)."""
    department = department or str(record["id"]).split("-")[0]
    received = datetime.fromisoformat(record["decision_date"]).replace(hour=10, tzinfo=SHANGHAI)
    receipt = {"department": department, "received_at": received.isoformat(), "seq": seq}
    return AcceptedRecord(
        event_id=f"ev-{record['id']}",
        department=department,
        record_id=record["id"],
        record_type=record["type"],
        version=record["version"],
        subject_code=record["subject"]["code"],
        decision_date=date.fromisoformat(record["decision_date"]),
        received_at=received,
        record=copy.deepcopy(dict(record)),
        receipt=receipt,
    )


def example(record_type: str, record_id: str) -> dict[str, Any]:
    return copy.deepcopy(next(r for r in examples(record_type) if r["id"] == record_id))


def serious_listing() -> dict[str, Any]:
    """HOUSING lists the company (认定 2026-06-22, period to 2029-06-21) with 法定代表人 and 陈静."""
    return example("serious_untrustworthy_listing", "HOUSING-2026-000045")


def removal(listing: Mapping[str, Any], *, record_id: str, on: str, reason: str = "信用修复") -> dict[str, Any]:
    record = copy.deepcopy(dict(listing))
    record["id"], record["decision_date"] = record_id, on
    record["data"] = {
        k: v for k, v in record["data"].items() if k not in {"related_persons", "listing_period_end", "measures_notice"}
    }
    record["data"] |= {"stage": "移出", "removal_reason": reason, "decision_date": on, "document_kind": "移出决定书"}
    return record


def revocation(target: str, *, record_id: str, on: str) -> dict[str, Any]:
    record = example("record_revocation", "HOUSING-2026-000071")
    record["id"], record["decision_date"] = record_id, on
    record["data"] |= {"target_record_id": target, "decision_date": on}
    return record


def court_listing(*, able_but_refusing: bool = True, kind: str = "legal_person") -> dict[str, Any]:
    record = example("judgment_defaulter_listing", "COURT-2026-000301")
    record["data"]["able_but_refusing"] = able_but_refusing
    if kind != "legal_person":
        record["subject"]["kind"] = kind
    return record


def red_listing() -> dict[str, Any]:
    return example("red_list", "DRC-2026-000012")


def records_of(*raw: Mapping[str, Any]) -> list[AcceptedRecord]:
    return [accepted(record, seq=n) for n, record in enumerate(raw, start=1)]


def only_case(records: list[AcceptedRecord], measure_list: MeasureList, as_of: date, **kw: bool) -> Case:
    (trigger,) = triggers_of(records, as_of)
    case = open_case(trigger, measure_list, **kw)
    assert case is not None
    return case


def ids(measures: list[Measure] | tuple[Measure, ...] | list[dict[str, Any]]) -> set[str]:
    return {m["measure_id"] if isinstance(m, dict) else m.id for m in measures}


ON = date(2026, 11, 20)


# --- the measure list file ------------------------------------------------------------------------------


def test_measure_list_file_validates_with_ids_the_feedback_schema_accepts(measure_list: MeasureList) -> None:
    assert measure_list.version == "2026.1"
    assert measure_list.effective_from == date(2026, 1, 1)
    assert len(measure_list.sanctions) == 61
    assert len(measure_list.rewards) == 15
    for measure in measure_list.measures:
        assert FEEDBACK_ID.match(measure.id)
        assert measure.legal_basis.document
        assert not measure.instructed or measure.category == "administrative"
        assert set(measure.matters) <= set(measure_list.matters)
    by_source: dict[str, int] = {}
    for measure in measure_list.sanctions:
        by_source[measure.id.split("-")[1]] = by_source.get(measure.id.split("-")[1], 0) + 1
    assert by_source == {"GF33": 20, "ZBF64": 30, "BX17": 8, "NSXY": 1, "AQSC": 1, "HXXY": 1}  # evaluations: issue 22


def _minimal(**changes: Any) -> dict[str, Any]:
    measure = {
        "id": "M-TEST-ADM-01",
        "name": "限制参加政府采购",
        "category": "administrative",
        "kind": "mandatory",
        "effect": "restrict",
        "legal_basis": {"document": "国发〔2016〕33号", "provision": "三（十）"},
        "term": "while_listed",
        "matters": ["government_procurement"],
        "implementing_departments": ["DRC"],
        "triggers": ["serious_untrustworthy_listing"],
        "subject_kinds": ["legal_person"],
        "related_person_roles": [],
        "conditions": {},
        "instructed": True,
    }
    return measure | changes


def _document(*sanctions: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "version": "t",
        "effective_from": "2026-01-01",
        "matters": {"government_procurement": "政府采购", "travel": "出行"},
        "sanctions": list(sanctions),
        "rewards": [],
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"implementing_departments": ["FINANCE"]}, "'FINANCE' is not a catalogue department", id="dept"),
        pytest.param({"matters": ["lottery"]}, "'lottery' is not a matter of the vocabulary", id="matter"),
        pytest.param({"triggers": ["grade:benxi-2017:E"]}, "unknown trigger", id="trigger"),
        pytest.param({"related_person_roles": ["股东"]}, "'股东' is not a related-person role", id="role"),
        pytest.param({"conditions": {"rich": True}}, "unknown fact 'rich'", id="condition"),
        pytest.param({"effect": "facilitate"}, "a sanction measure's effect", id="reward-effect"),
        pytest.param({"legal_basis": {"document": "", "provision": "x"}}, "document, provision", id="no-basis"),
        pytest.param({"term": {"years": 0}}, "while_listed or {years: N}", id="term"),
        pytest.param({"category": "market"}, "published as information only", id="market-instructed"),
    ],
)
def test_invalid_measure_is_refused_naming_the_file_and_the_measure(change: dict[str, Any], message: str) -> None:
    with pytest.raises(MeasureListError) as raised:
        parse_measure_list(_document(_minimal(**change)), source="measures.yaml", departments=DEPARTMENTS)
    (where, problem), *_ = raised.value.problems
    assert where.startswith("measures.yaml: sanctions[0] M-TEST-ADM-01")
    assert message in problem


def test_every_problem_is_reported_at_once_and_duplicate_ids_are_refused() -> None:
    bad = _minimal(implementing_departments=["FINANCE"], matters=["lottery"])
    with pytest.raises(MeasureListError) as raised:
        parse_measure_list(_document(bad, _minimal(), _minimal()), source="m.yaml", departments=DEPARTMENTS)
    messages = [message for _, message in raised.value.problems]
    assert len(messages) == 3
    assert messages[-1] == "duplicate measure id"


def test_the_loader_names_an_unreadable_file(tmp_path: Any) -> None:
    missing = tmp_path / "measures.yaml"
    with pytest.raises(MeasureListError, match=r"measures\.yaml: cannot read"):
        load_measure_list(missing, departments=DEPARTMENTS)
    missing.write_text(yaml.safe_dump(_document(_minimal(instructed=False))), encoding="utf-8")
    with pytest.raises(MeasureListError, match="not instructed has no implementer"):
        load_measure_list(missing, departments=DEPARTMENTS)


# --- triggers and cases ----------------------------------------------------------------------------------


def test_serious_listing_restricts_government_procurement_at_the_implementing_departments(
    measure_list: MeasureList,
) -> None:
    case = only_case(records_of(serious_listing()), measure_list, ON)
    assert case.case_id == "case-HOUSING-HOUSING-2026-000045"
    answer = restriction_answer(COMPANY, "government_procurement", ON, [case])
    assert answer["restricted"] is True
    assert answer["suspended"] is False
    assert ids(answer["measures"]) == {"M-GF33-ADM-09", "M-BX17-ADM-02"}
    national = next(m for m in answer["measures"] if m["measure_id"] == "M-GF33-ADM-09")
    assert national["legal_basis"] == {"document": "国发〔2016〕33号", "provision": "三（十）"}
    assert (national["since"], national["until"]) == ("2026-06-22", "2029-06-21")
    procurement = {m.id for m in case.measures if "government_procurement" in m.matters}
    implementers = {i.department for i in instructions_for(case) if procurement & ids(i.measures)}
    assert implementers == {"DRC", "HOUSING"}


def test_restriction_answer_has_exactly_the_api_shape(measure_list: MeasureList) -> None:
    case = only_case(records_of(serious_listing()), measure_list, ON)
    answer = restriction_answer(COMPANY, "government_procurement", ON, [case])
    assert list(answer) == ["code", "matter", "on", "restricted", "suspended", "measures", "rewards"]
    assert answer["on"] == "2026-11-20"
    keys = ["measure_id", "name", "kind", "effect", "legal_basis", "case_id", "since", "until"]
    assert all(list(item) == keys for item in answer["measures"])


@pytest.mark.parametrize("matter", ["customs", "consumption", "travel", "real_estate", "public_office"])
def test_serious_listing_does_not_restrict_matters_outside_its_measures(measure_list: MeasureList, matter: str) -> None:
    case = only_case(records_of(serious_listing()), measure_list, ON)
    answer = restriction_answer(COMPANY, matter, ON, [case])
    assert (answer["restricted"], answer["measures"]) == (False, [])


def test_strict_review_is_listed_without_setting_restricted(measure_list: MeasureList) -> None:
    case = only_case(records_of(serious_listing()), measure_list, ON)
    answer = restriction_answer(COMPANY, "inspection", ON, [case])
    assert answer["restricted"] is False
    assert [(m["measure_id"], m["effect"]) for m in answer["measures"]] == [("M-GF33-ADM-01", "strict_review")]


def test_mandatory_national_and_recommended_local_measures_are_told_apart(measure_list: MeasureList) -> None:
    case = only_case(records_of(serious_listing()), measure_list, ON)
    answer = restriction_answer(COMPANY, "public_tender", ON, [case])
    kinds = {m["measure_id"]: m["kind"] for m in answer["measures"]}
    assert kinds == {"M-GF33-ADM-09": "mandatory", "M-BX17-ADM-02": "recommended"}  # 001 L378; 004 L90


def test_measure_for_natural_persons_does_not_reach_a_company(measure_list: MeasureList) -> None:
    company = only_case(records_of(court_listing()), measure_list, ON)
    person = only_case(records_of(court_listing(kind="natural_person")), measure_list, ON)
    assert "M-ZBF64-ADM-13" not in ids(company.measures)  # 失信被执行人为个人的 (001 L420)
    assert "M-ZBF64-ADM-13" in ids(person.measures)
    assert "M-ZBF64-ADM-23" in ids(company.measures)  # 房地产、建筑企业资质 (001 L431): companies only
    assert "M-ZBF64-ADM-23" not in ids(person.measures)
    assert restriction_answer(COMPANY, "public_office", ON, [company])["restricted"] is False


def test_able_but_refusing_condition_is_honoured(measure_list: MeasureList) -> None:
    able = only_case(records_of(court_listing(able_but_refusing=True)), measure_list, ON)
    unable = only_case(records_of(court_listing(able_but_refusing=False)), measure_list, ON)
    serious = only_case(records_of(serious_listing()), measure_list, ON)
    consumption = {"M-GF33-MKT-02", "M-GF33-MKT-03", "M-GF33-MKT-04"}  # 出境 (MKT-01) is for persons only
    assert consumption <= ids(able.measures)  # 001 L368
    assert not consumption & ids(unable.measures)
    assert not consumption & ids(serious.measures)  # a serious listing does not state the fact
    assert restriction_answer(COMPANY, "travel", ON, [able])["restricted"] is True
    assert restriction_answer(COMPANY, "travel", ON, [unable])["restricted"] is False
    trigger = triggers_of(records_of(serious_listing()), ON)[0]
    forced = applicable_measures(trigger, measure_list, facts={"able_but_refusing": True})
    assert consumption <= ids(forced)


@pytest.mark.parametrize("able", [True, False], ids=["able-but-refusing", "unable"])
@pytest.mark.parametrize("kind", ["legal_person", "individual_business", "natural_person"])
def test_real_estate_limit_reaches_every_court_defaulter(measure_list: MeasureList, able: bool, kind: str) -> None:
    case = only_case(records_of(court_listing(able_but_refusing=able, kind=kind)), measure_list, ON)
    answer = restriction_answer(COMPANY, "real_estate", ON, [case])
    assert answer["restricted"] is True
    assert "M-ZBF64-ADM-25" in ids(answer["measures"])  # 001 L437, no ability condition


def test_related_person_is_restricted_where_the_measure_reaches_the_role(measure_list: MeasureList) -> None:
    case = only_case(records_of(court_listing()), measure_list, ON)
    reached = related_person_restrictions(case.trigger, case.measures)
    assert [(p.id_number, p.role, p.measure.id) for p in reached] == [(LEGAL_REP, "法定代表人", "M-ZBF64-ADM-25")]
    assert restriction_answer(LEGAL_REP, "real_estate", ON, [case])["restricted"] is True
    assert restriction_answer(LEGAL_REP, "government_procurement", ON, [case])["measures"] == []
    (housing,) = [i for i in instructions_for(case) if i.department == "HOUSING"]
    assert [(p.id_number, p.measure.id) for p in housing.persons] == [(LEGAL_REP, "M-ZBF64-ADM-25")]


def test_serious_listing_reaches_only_the_roles_its_source_names(measure_list: MeasureList) -> None:
    case = only_case(records_of(serious_listing()), measure_list, ON)
    reached = {(p.id_number, p.role, p.measure.id) for p in related_person_restrictions(case.trigger, case.measures)}
    assert reached == {
        (LEGAL_REP, "法定代表人", "M-GF33-ADM-11"),
        (LEGAL_REP, "法定代表人", "M-GF33-ADM-12"),
    }  # 001 L367: 法定代表人、主要负责人; 注册执业人员 / 董事、股东 are roles no record names
    assert restriction_answer(OTHER_PERSON, "honours", ON, [case])["restricted"] is False
    assert restriction_answer(OTHER_PERSON, "market_entry", ON, [case])["measures"] == []


def test_market_entry_ban_needs_its_conditions_and_ends_after_a_fixed_term(measure_list: MeasureList) -> None:
    listing = serious_listing()
    listing["data"].pop("listing_period_end")  # a listing with no end
    case = only_case(records_of(listing), measure_list, ON)
    ban = measure_list.get("M-GF33-ADM-11")
    assert ban in case.measures
    assert measure_until(ban, case.trigger) == date(2029, 6, 21)  # 001 L622 在一定期限内: three years
    assert restriction_answer(LEGAL_REP, "market_entry", date(2029, 6, 21), [case])["restricted"] is True
    assert restriction_answer(LEGAL_REP, "market_entry", date(2029, 6, 22), [case])["restricted"] is False
    listing["data"]["causes_serious_social_impact"] = False  # 001 L622: 造成重大损失 is not stated
    assert ban not in only_case(records_of(listing), measure_list, ON).measures


def test_every_measure_that_reaches_a_person_has_a_finite_term(measure_list: MeasureList) -> None:
    reaching = [m for m in measure_list.measures if m.related_person_roles]
    assert {m.id for m in reaching} == {"M-GF33-ADM-11", "M-GF33-ADM-12", "M-ZBF64-ADM-25"}
    assert all(m.term_years is not None for m in reaching)
    assert "其他直接责任人员" not in {r for m in reaching if m.id.startswith("M-GF33") for r in m.related_person_roles}


def test_loader_refuses_a_measure_reaching_persons_without_a_finite_term() -> None:
    endless = _minimal(related_person_roles=["法定代表人"], term="while_listed")
    with pytest.raises(MeasureListError) as raised:
        parse_measure_list(_document(endless), source="measures.yaml", departments=DEPARTMENTS)
    assert raised.value.problems == (
        (
            "measures.yaml: sanctions[0] M-TEST-ADM-01.term",
            "a measure that reaches related persons needs a finite term {years: N}",
        ),
    )
    fixed = _minimal(related_person_roles=["法定代表人"], term={"years": 3})
    (measure,) = parse_measure_list(_document(fixed), source="measures.yaml", departments=DEPARTMENTS).sanctions
    assert measure.term_years == 3


def test_market_industry_and_social_measures_produce_no_instruction(measure_list: MeasureList) -> None:
    case = only_case(records_of(serious_listing()), measure_list, ON)
    information = [m for m in case.measures if m.category != "administrative"]
    assert {m.category for m in information} == {"market", "industry", "social"}
    assert instructions_for(case, information) == []
    instructed = {m.id for i in instructions_for(case) for m in i.measures}
    assert not instructed & ids(information)
    central_only = [m for m in case.measures if m.instructed and not m.implementing_departments]
    assert central_only  # e.g. 股票发行 (证监会): answered in checks, no county instruction
    assert not instructed & ids(central_only)


def test_one_instruction_per_implementing_department(measure_list: MeasureList) -> None:
    case = only_case(records_of(serious_listing()), measure_list, ON)
    instructions = instructions_for(case)
    assert [i.department for i in instructions] == ["AMR", "DRC", "HOUSING", "TAX"]
    for instruction in instructions:
        assert all(instruction.department in m.implementing_departments for m in instruction.measures)
        assert instruction.instruction_id == f"case-HOUSING-HOUSING-2026-000045:{instruction.department}"
        assert FEEDBACK_ID.match(instruction.instruction_id)
        assert len(instruction.instruction_id) <= 64


def test_pending_objection_suspends_the_case(measure_list: MeasureList) -> None:
    case = only_case(records_of(serious_listing()), measure_list, ON, objection_pending=True)
    assert case.state(ON) is CaseState.SUSPENDED
    answer = restriction_answer(COMPANY, "government_procurement", ON, [case])
    assert (answer["restricted"], answer["suspended"], answer["measures"]) == (False, True, [])
    assert restriction_answer(COMPANY, "customs", ON, [case])["suspended"] is False  # nothing to suspend there


def test_rejected_objection_resumes_the_case(measure_list: MeasureList) -> None:
    (trigger,) = triggers_of(records_of(serious_listing()), ON)
    assert case_state(trigger, True, ON) is CaseState.SUSPENDED
    assert case_state(trigger, False, ON) is CaseState.OPEN


def test_removal_lifts_the_case_from_its_decision_date(measure_list: MeasureList) -> None:
    listing = serious_listing()
    records = records_of(listing, removal(listing, record_id="HOUSING-2026-000090", on="2026-12-01"))
    (trigger,) = trigger_history(records)
    assert case_state(trigger, False, date(2026, 11, 30)) is CaseState.OPEN
    assert case_state(trigger, False, date(2026, 12, 1)) is CaseState.LIFTED
    assert case_state(trigger, True, date(2026, 12, 1)) is CaseState.LIFTED  # an objection cannot revive it
    assert lift_reason(trigger, date(2026, 12, 1)) == "移出：信用修复"
    assert triggers_of(records, date(2026, 12, 1)) == []
    case = open_case(trigger, measure_list)
    assert case is not None
    lifted = restriction_answer(COMPANY, "government_procurement", date(2026, 12, 1), [case])
    assert (lifted["restricted"], lifted["measures"]) == (False, [])


def test_revocation_of_the_listing_lifts_the_case_and_marks_it_wrongful(measure_list: MeasureList) -> None:
    records = records_of(serious_listing(), example("record_revocation", "HOUSING-2026-000071"))
    (trigger,) = trigger_history(records)
    assert trigger.revoked_on == date(2026, 10, 16)
    assert case_state(trigger, False, date(2026, 10, 15)) is CaseState.OPEN
    assert case_state(trigger, False, date(2026, 10, 16)) is CaseState.LIFTED
    assert lift_reason(trigger, ON) == "撤销记录"
    assert triggers_of(records, ON) == []


def test_revoked_removal_puts_the_listing_back(measure_list: MeasureList) -> None:
    listing = serious_listing()
    removed = removal(listing, record_id="HOUSING-2026-000090", on="2026-08-01")
    records = records_of(
        listing, removed, revocation("HOUSING-2026-000090", record_id="HOUSING-2026-000091", on=str(ON))
    )
    assert [t.case_id for t in triggers_of(records, ON)] == ["case-HOUSING-HOUSING-2026-000045"]


def test_correction_recomputes_measures_under_the_same_case_id(measure_list: MeasureList) -> None:
    listing = court_listing(able_but_refusing=True)
    corrected = {**listing["data"], "able_but_refusing": False}
    correction = {
        "id": "COURT-2026-000350",
        "type": "record_correction",
        "version": 1,
        "subject": listing["subject"],
        "decision_date": "2026-09-01",
        "data": {"target_record_id": listing["id"], "reason_kind": "异议核实", "reason": "经核实无履行能力。"}
        | {"changed_fields": ["able_but_refusing"], "corrected_data": corrected, "decision_date": "2026-09-01"},
    }
    before = only_case(records_of(listing), measure_list, ON)
    after = only_case(records_of(listing, correction), measure_list, ON)
    assert after.case_id == before.case_id
    assert after.trigger.corrected
    assert "M-GF33-MKT-03" in ids(before.measures)
    assert "M-GF33-MKT-03" not in ids(after.measures)


def test_correction_that_makes_it_no_listing_lifts_the_case() -> None:
    listing = serious_listing()
    notice_only = {**listing["data"], "stage": "拟列入告知"}
    correction = {
        "id": "HOUSING-2026-000099",
        "type": "record_correction",
        "version": 1,
        "subject": listing["subject"],
        "decision_date": "2026-09-01",
        "data": {"target_record_id": listing["id"], "reason_kind": "异议核实", "reason": "尚未作出认定。"}
        | {"changed_fields": ["stage"], "corrected_data": notice_only, "decision_date": "2026-09-01"},
    }
    (trigger,) = trigger_history(records_of(listing, correction))
    assert (trigger.ended_on, lift_reason(trigger, ON)) == (date(2026, 9, 1), "更正")


def test_case_expires_after_listing_period_end(measure_list: MeasureList) -> None:
    (trigger,) = trigger_history(records_of(serious_listing()))
    end = date(2029, 6, 21)
    assert case_state(trigger, False, end) is CaseState.OPEN
    assert case_state(trigger, False, end + timedelta(days=1)) is CaseState.LIFTED
    assert lift_reason(trigger, end + timedelta(days=1)) == "期满"
    case = open_case(trigger, measure_list)
    assert case is not None
    answer = restriction_answer(COMPANY, "government_procurement", end + timedelta(days=1), [case])
    assert answer["restricted"] is False


def test_pre_notice_is_not_a_listing() -> None:
    notice = example("serious_untrustworthy_listing", "HOUSING-2026-000044")
    assert trigger_history(records_of(notice)) == []
    assert len(triggers_of(records_of(notice, serious_listing()), ON)) == 1


def test_listing_is_not_in_force_before_its_decision(measure_list: MeasureList) -> None:
    records = records_of(serious_listing())
    assert triggers_of(records, date(2026, 6, 21)) == []
    case = open_case(trigger_history(records)[0], measure_list)
    assert case is not None
    assert restriction_answer(COMPANY, "public_tender", date(2026, 6, 21), [case])["measures"] == []


def test_red_list_subject_gets_rewards_when_applying_for_a_licence(measure_list: MeasureList) -> None:
    record = red_listing()
    code = record["subject"]["code"]
    case = only_case(records_of(record), measure_list, ON)
    answer = restriction_answer(code, "administrative_licensing", ON, [case])
    assert (answer["restricted"], answer["measures"]) == (False, [])
    assert ids(answer["rewards"]) == {"R-GF33-ADM-01", "R-GF33-ADM-02", "R-BX17-ADM-01"}  # 001 L360; 004 L33
    assert answer["rewards"][0]["until"] == "2028-12-31"
    assert restriction_answer(code, "administrative_licensing", date(2029, 1, 1), [case])["rewards"] == []


def test_rewards_are_withheld_while_a_sanction_case_is_active(measure_list: MeasureList) -> None:
    red = red_listing()
    red["subject"]["code"] = COMPANY
    sanctions = only_case(records_of(serious_listing()), measure_list, ON)
    reward = only_case(records_of(red), measure_list, ON)
    assert restriction_answer(COMPANY, "administrative_licensing", ON, [sanctions, reward])["rewards"] == []
    lifted_day = date(2029, 6, 22)
    assert restriction_answer(COMPANY, "administrative_licensing", lifted_day, [sanctions, reward])["rewards"] == []
    red["data"]["valid_until"] = "2030-12-31"
    longer = only_case(records_of(red), measure_list, ON)
    assert restriction_answer(COMPANY, "administrative_licensing", lifted_day, [sanctions, longer])["rewards"]


def test_a_grade_gets_priority_and_c_grade_may_not_bid(measure_list: MeasureList) -> None:
    a = derived_trigger("grade:benxi-2017:A", subject_code=COMPANY, subject_kind="legal_person", since=ON)
    c = derived_trigger("grade:benxi-2017:C", subject_code=COMPANY, subject_kind="legal_person", since=ON)
    a_case, c_case = open_case(a, measure_list), open_case(c, measure_list)
    assert a_case is not None
    assert c_case is not None
    tender_a = restriction_answer(COMPANY, "public_tender", ON, [a_case])
    assert "R-BX17-GRD-02" in ids(tender_a["rewards"])  # 004 L53
    tender_c = restriction_answer(COMPANY, "public_tender", ON, [c_case])
    assert (tender_c["restricted"], ids(tender_c["measures"])) == (True, {"M-BX17-GRD-01"})  # 004 L57


@pytest.mark.parametrize(
    "kind", ["grade:benxi-2017:B", "grade:chongqing-amr:C", "grade:nowhere-1:A"], ids=["b", "cq-c", "unknown-set"]
)
def test_trigger_with_no_applicable_measure_opens_no_case(measure_list: MeasureList, kind: str) -> None:
    trigger = derived_trigger(kind, subject_code=COMPANY, subject_kind="legal_person", since=ON)
    assert applicable_measures(trigger, measure_list) == []
    assert open_case(trigger, measure_list) is None


def test_grade_measures_do_not_reach_subject_kinds_the_rule_set_does_not_name(measure_list: MeasureList) -> None:
    trigger = derived_trigger("grade:benxi-2017:D", subject_code=OTHER_PERSON, subject_kind="natural_person", since=ON)
    assert open_case(trigger, measure_list) is None


def test_case_ids_are_deterministic_across_replays_in_any_order(measure_list: MeasureList) -> None:
    listing = serious_listing()
    raw = [
        listing,
        removal(listing, record_id="HOUSING-2026-000090", on="2026-12-01"),
        example("serious_untrustworthy_listing", "HOUSING-2026-000044"),
        court_listing(),
    ]
    first = trigger_history(records_of(*raw))
    shuffled = raw[:]
    random.Random(7).shuffle(shuffled)
    again = trigger_history(records_of(*shuffled))
    assert [t.case_id for t in first] == [t.case_id for t in again]
    assert [t.case_id for t in first] == ["case-HOUSING-HOUSING-2026-000045", "case-COURT-COURT-2026-000301"]
    assert first == again
    grade = derived_trigger("grade:benxi-2017:C", subject_code=COMPANY, subject_kind="legal_person", since=ON)
    assert grade.case_id == f"case-grade:benxi-2017:C:{COMPANY}:2026-11-20"


def test_long_record_ids_still_give_feedback_compatible_case_ids() -> None:
    listing = serious_listing()
    listing["id"] = "HOUSING-" + "X" * 56
    (trigger,) = trigger_history(records_of(listing))
    assert len(trigger.case_id) == 64
    assert FEEDBACK_ID.match(trigger.case_id)
    assert trigger.case_id == trigger_history(records_of(listing))[0].case_id


def test_measure_with_a_term_in_years_ends_within_the_listing() -> None:
    document = _document(_minimal(term={"years": 1}))
    (measure,) = parse_measure_list(document, source="m.yaml", departments=DEPARTMENTS).sanctions
    (trigger,) = trigger_history(records_of(serious_listing()))
    assert measure_until(measure, trigger) == date(2027, 6, 21)
    short = derived_trigger("clean_record_3y", subject_code=COMPANY, subject_kind="legal_person", since=ON)
    assert measure_until(measure, short) == date(2027, 11, 19)


def test_records_of_several_subjects_are_refused() -> None:
    with pytest.raises(ValueError, match="one subject"):
        trigger_history(records_of(serious_listing(), red_listing()))


# --- objections suspend every case resting on the disputed record (derive) -------------------------------

GRADED = datetime(2026, 11, 10, 9, tzinfo=SHANGHAI)
PENALTY_ID = "AMR-2026-000123"


def c_grade(*, rests_on: tuple[tuple[str, str], ...] = (("AMR", PENALTY_ID),)) -> GradeChange:
    return GradeChange(COMPANY, "benxi-2017", "C", date(2026, 11, 10), "legal_person", GRADED, "g-1", rests_on)


def objection(record_id: str, *, department: str = "AMR", filed_on: date = date(2026, 11, 12)) -> Objection:
    return Objection(f"OBJ-{record_id}", COMPANY, department, record_id, filed_on)


def answered(target: Objection, outcome: str, on: str, *, record_id: str = "AMR-2026-000900") -> dict[str, Any]:
    record = example("objection_verification", "AMR-2026-000236")
    record["id"], record["decision_date"] = record_id, on  # the id's prefix is the answering department
    record["subject"] = {**record["subject"], "code": target.subject_code}
    data = {"objection_id": target.objection_id, "target_record_id": target.record_id, "outcome": outcome}
    record["data"] |= data | {"decision_date": on}
    return record


def views(
    measure_list: MeasureList, as_of: date, *raw: Mapping[str, Any], grades: Any = (), objections: Any = ()
) -> list[Any]:
    records = [accepted(r, seq=n) for n, r in enumerate(raw, start=1)]
    return derive_cases(records=records, objections=objections, grades=grades, measure_list=measure_list, as_of=as_of)


def test_objection_on_a_record_the_grade_rests_on_suspends_the_grade_case(measure_list: MeasureList) -> None:
    disputed = objection(PENALTY_ID)
    (view,) = views(measure_list, ON, grades=[c_grade()], objections=[disputed])
    assert (view.case.trigger.kind, view.state, view.state_since) == (
        "grade:benxi-2017:C",
        "suspended",
        date(2026, 11, 12),
    )
    assert view.objection_ids == (disputed.objection_id,)
    answer = restriction_answer(COMPANY, "public_tender", ON, [view.case])
    assert (answer["restricted"], answer["suspended"]) == (False, True)
    # An objection on a record the grade does not rest on changes nothing.
    (other,) = views(measure_list, ON, grades=[c_grade()], objections=[objection("AMR-2026-000555")])
    assert other.state is CaseState.OPEN


def test_rejected_objection_resumes_the_grade_case(measure_list: MeasureList) -> None:
    disputed = objection(PENALTY_ID)
    rejection = answered(disputed, "不属实", "2026-11-16")
    (view,) = views(measure_list, ON, rejection, grades=[c_grade()], objections=[disputed])
    assert (view.state, view.state_since, view.reason) == ("open", date(2026, 11, 16), "异议核实不属实，恢复执行")


def test_grade_rests_on_every_record_its_announcements_in_the_period_name() -> None:
    first = c_grade()
    again = GradeChange(
        COMPANY, "benxi-2017", "C", date(2026, 11, 15), "legal_person", GRADED, "g-2", (("TAX", "TAX-2026-000087"),)
    )
    (trigger,) = grade_triggers([first, again])
    assert trigger.rests_on == (("AMR", PENALTY_ID), ("TAX", "TAX-2026-000087"))


def notice_and_listing(*, listed_on: str = "2026-06-05") -> tuple[dict[str, Any], dict[str, Any]]:
    """The 拟列入告知 of 2026-06-02 (objections until 2026-06-09), then the 认定 on `listed_on`."""
    notice = example("serious_untrustworthy_listing", "HOUSING-2026-000044")
    listing = serious_listing()
    listing["decision_date"] = listing["data"]["decision_date"] = listed_on
    return notice, listing


def test_listing_decided_before_the_notice_objection_deadline_is_suspended_until_it_passes(
    measure_list: MeasureList,
) -> None:
    notice, listing = notice_and_listing()
    (view,) = views(measure_list, date(2026, 6, 9), notice, listing)
    assert (view.state, view.state_since) == ("suspended", date(2026, 6, 5))
    assert view.reason is not None
    assert "2026-06-09" in view.reason
    assert view.review_on == date(2026, 6, 10)  # the ticker resumes it then
    assert restriction_answer(COMPANY, "government_procurement", date(2026, 6, 9), [view.case])["suspended"] is True
    (after,) = views(measure_list, date(2026, 6, 10), notice, listing)
    assert (after.state, after.state_since, after.reason) == (
        "open",
        date(2026, 6, 10),
        "拟列入告知的异议期已届满，开始执行",
    )
    assert after.review_on is None


def test_pending_objection_on_the_notice_suspends_the_listing_until_answered(measure_list: MeasureList) -> None:
    notice, listing = notice_and_listing()
    disputed = objection(notice["id"], department="HOUSING", filed_on=date(2026, 6, 4))
    (pending,) = views(measure_list, date(2026, 6, 20), notice, listing, objections=[disputed])
    assert (pending.state, pending.objection_ids) == ("suspended", (disputed.objection_id,))
    rejection = answered(disputed, "不属实", "2026-06-25", record_id="HOUSING-2026-000900")
    (resumed,) = views(measure_list, date(2026, 6, 30), notice, listing, rejection, objections=[disputed])
    assert (resumed.state, resumed.state_since) == ("open", date(2026, 6, 25))


def test_listing_decided_after_the_notice_period_opens_at_once(measure_list: MeasureList) -> None:
    notice, listing = notice_and_listing(listed_on="2026-06-22")
    (view,) = views(measure_list, ON, notice, listing)
    assert (view.state, view.state_since, view.reason) == ("open", date(2026, 6, 22), None)
    assert view.case.trigger.rests_on == (("HOUSING", notice["id"]),)


# --- three consecutive clean years (clean_record_3y, 001 L360, L534) ---------------------------------------

XINYUAN = "91500101MA5U7K3PXJ"  # 示范县鑫源食品有限公司, established 2019-07-02 (registration AMR-2026-000009)


@pytest.fixture(scope="module")
def adverse() -> BenxiRules:
    rules = rule_set_version_for(load_rule_sets(default_schemas_dir()), ADVERSE_RULE_SET, ON).rules
    assert isinstance(rules, BenxiRules)
    return rules


def registered() -> dict[str, Any]:
    return example("subject_registration", "AMR-2026-000009")


def clean(adverse: BenxiRules, *raw: Mapping[str, Any], as_of: date = ON) -> Any:
    return clean_record_trigger(records_of(*raw), adverse, as_of, subject_kind="legal_person")


def test_three_clean_years_since_establishment_give_the_licensing_rewards(
    measure_list: MeasureList, adverse: BenxiRules
) -> None:
    trigger = clean(adverse, registered())
    assert trigger is not None
    assert (trigger.kind, trigger.since, trigger.until) == ("clean_record_3y", date(2022, 7, 2), None)
    case = open_case(trigger, measure_list)
    assert case is not None
    answer = restriction_answer(XINYUAN, "administrative_licensing", ON, [case])
    assert ids(answer["rewards"]) == {"R-GF33-ADM-01", "R-GF33-ADM-02"}  # 绿色通道, 容缺受理
    assert clean(adverse, registered(), as_of=date(2022, 7, 1)) is None  # the third year is not complete yet


def test_an_adverse_record_restarts_the_three_clean_years(adverse: BenxiRules) -> None:
    fined = example("administrative_penalty", "AMR-2026-000123")  # decided 2026-03-16
    assert clean(adverse, registered(), fined) is None
    assert clean_since(records_of(registered(), fined), adverse, ON, subject_kind="legal_person") == date(2026, 3, 17)
    later = clean(adverse, registered(), fined, as_of=date(2029, 3, 17))
    assert later is not None
    assert later.since == date(2029, 3, 17)
    assert clean(adverse, registered(), fined, as_of=date(2029, 3, 16)) is None


def test_a_list_entry_breaks_the_clean_record_while_in_force_and_until_three_years_after(adverse: BenxiRules) -> None:
    watched = example("watch_list", "AMR-2026-000280")  # 列入 2026-06-01 until 2027-05-31, with document_no
    assert clean(adverse, registered(), watched) is None
    assert clean(adverse, registered(), watched, as_of=date(2030, 5, 31)) is None  # clean since 2027-06-01
    assert clean(adverse, registered(), watched, as_of=date(2030, 6, 1)) is not None


def test_watch_list_entry_without_a_legal_document_does_not_count_against_the_subject(adverse: BenxiRules) -> None:
    watched = example("watch_list", "AMR-2026-000280")
    watched["data"].pop("document_no")  # v1 allows it: no legally effective document (001 L646)
    trigger = clean(adverse, registered(), watched)
    assert trigger is not None
    assert trigger.since == date(2022, 7, 2)


def test_broken_commitment_counts_against_the_subject_only_with_its_document(adverse: BenxiRules) -> None:
    broken = example("credit_commitment", "AMR-2026-000271")  # 违诺 on 2026-05-21, v1: no document_no
    assert "document_no" not in broken["data"]
    assert clean(adverse, registered(), broken) is not None
    documented = copy.deepcopy(broken)
    documented["version"] = 2
    documented["data"] |= {"document_kind": "违背信用承诺认定书", "document_no": "示市监诺认〔2026〕1号"}
    assert clean(adverse, registered(), documented) is None
