"""Pure rules of the publish service (DOMAIN §7-§8): publicity rule sets, severity, masking, disclosure."""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.amendments import effective_records
from services.common.calendar import Deadline, WorkingDayCalendar
from services.common.catalogue import load_catalogue
from services.common.clock import SHANGHAI
from services.common.records import AcceptedRecord
from services.publish.rules import (
    DisclosureState,
    PublicityRulesError,
    Responsible,
    Severity,
    add_months,
    disclosure_state,
    listed_document_numbers,
    load_publicity_rules,
    public_view,
    publicity_window,
    severity_of,
    should_publish,
)
from services.publish.rules.publicity import PublicityRules

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
CATALOGUE = load_catalogue(SCHEMAS)
RULES = load_publicity_rules(SCHEMAS)
CALENDAR = WorkingDayCalendar.load(SCHEMAS / "calendar" / "overrides.yaml")
PENALTY, LICENCE = CATALOGUE.record_types["administrative_penalty"], CATALOGUE.record_types["administrative_licensing"]
PERSON_ID = "11010519491231002X"
MINOR_ID = "110105201005010018"  # born 2010-05-01
TAX_LAW = "《中华人民共和国税收征收管理法》第六十二条"


def _example(record_type: str, index: int = 0) -> dict[str, Any]:
    items = json.loads((SCHEMAS / "examples" / f"{record_type}.json").read_text(encoding="utf-8"))
    return copy.deepcopy(items[index])


def _accepted(envelope: dict[str, Any], *, department: str = "AMR", received: str | None = None) -> AcceptedRecord:
    decided = date.fromisoformat(envelope["decision_date"])
    received_at = received or f"{decided + timedelta(days=1)}T10:00:00+08:00"
    return AcceptedRecord(
        event_id=f"evt-{envelope['id']}",
        department=department,
        record_id=envelope["id"],
        record_type=envelope["type"],
        version=envelope["version"],
        subject_code=envelope["subject"]["code"],
        decision_date=decided,
        received_at=datetime.fromisoformat(received_at),
        record=envelope,
        receipt={"department": department, "received_at": received_at, "seq": 1},
    )


def penalty(decided: str = "2026-05-11", kinds: tuple[str, ...] = ("罚款",), **data: Any) -> AcceptedRecord:
    """A legal person's penalty (AMR example 0) with the given decision date, kinds and data changes."""
    envelope = _example("administrative_penalty")
    envelope["decision_date"] = decided
    envelope["data"].update({"CF_JDRQ": decided, "CF_CFLB": list(kinds), "CF_NR_FK": 20, **data})
    envelope["data"] = {key: value for key, value in envelope["data"].items() if value is not None}
    return _accepted(envelope)


def person_penalty(
    id_number: str = PERSON_ID, name: str = "张三", decided: str = "2026-05-11", **data: Any
) -> AcceptedRecord:
    record = penalty(decided, CF_XDR_SHXYM=None, CF_FRDB=None, CF_FR_ZJLX=None, CF_FR_ZJHM=None, **data)
    record.record["subject"] = {"kind": "natural_person", "code": id_number, "name": name, "id_type": "身份证"}
    record.data.update({"CF_XDR_MC": name, "CF_XDR_LB": "自然人", "CF_XDR_ZJLX": "身份证", "CF_XDR_ZJHM": id_number})
    return replace(record, subject_code=id_number)


def licence(valid_until: str = "2029-06-30", status: str = "有效") -> AcceptedRecord:
    envelope = _example("administrative_licensing")
    envelope["data"].update({"XK_YXQZI": valid_until, "XK_ZT": status})
    return _accepted(envelope)


# --- month arithmetic and the inclusive end ---------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        pytest.param(date(2026, 4, 1), 12, date(2027, 4, 1), id="one-year-same-day"),
        pytest.param(date(2026, 1, 31), 1, date(2026, 2, 28), id="jan-31-clamps-to-feb-28"),
        pytest.param(date(2024, 2, 29), 12, date(2025, 2, 28), id="leap-day-clamps"),
        pytest.param(date(2026, 8, 31), 6, date(2027, 2, 28), id="aug-31-plus-6"),
        pytest.param(date(2026, 3, 31), 3, date(2026, 6, 30), id="mar-31-plus-3"),
        pytest.param(date(2026, 11, 30), 3, date(2027, 2, 28), id="across-year-end"),
        pytest.param(date(2026, 5, 11), 0, date(2026, 5, 11), id="zero-months"),
    ],
)
def test_add_months_keeps_the_day_and_clamps_to_month_end(start: date, months: int, end: date) -> None:
    assert add_months(start, months) == end


def test_add_months_refuses_negative_months() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_months(date(2026, 1, 1), -1)


@given(st.dates(date(2000, 1, 1), date(2090, 12, 31)), st.integers(0, 120))
def test_add_months_lands_in_the_right_month_never_past_the_day(start: date, months: int) -> None:
    end = add_months(start, months)
    assert (end.year - start.year) * 12 + end.month - start.month == months
    assert end.day <= start.day
    assert end.day == start.day or (end + timedelta(days=1)).day == 1


def test_maximum_end_is_the_last_visible_day_and_withdrawal_is_the_next() -> None:
    record = penalty("2026-04-01")  # 20 万元 fine of an organisation: 一般 under order 36, 3-12 months
    window = publicity_window(record, RULES, CALENDAR)
    assert (window.minimum_end, window.maximum_end) == (date(2026, 7, 1), date(2027, 4, 1))
    assert (window.repair_from, window.withdraw_on) == (date(2026, 7, 2), date(2027, 4, 2))
    assert window.is_published_on(date(2027, 4, 1))
    assert not window.is_published_on(date(2027, 4, 2))
    on_last_day = should_publish(
        record, PENALTY, subject_kind="legal_person", as_of=date(2027, 4, 1), rules=RULES, calendar=CALENDAR
    )
    after = should_publish(
        record, PENALTY, subject_kind="legal_person", as_of=date(2027, 4, 2), rules=RULES, calendar=CALENDAR
    )
    assert on_last_day.publish
    assert not after.publish
    assert "ended on 2027-04-01" in after.reason


def test_window_carries_the_7_working_day_disclosure_deadline() -> None:
    window = publicity_window(penalty("2026-09-28"), RULES, CALENDAR)
    assert window.disclosure_due == Deadline(date(2026, 10, 13), provisional=False)


# --- rule sets at their boundaries --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decided", "rule_set", "minimum_end", "maximum_end"),
    [
        pytest.param("2023-04-30", "ndrc-2019-527", date(2023, 7, 30), date(2024, 4, 30), id="2023-04-30-is-527"),
        pytest.param("2023-05-01", "ndrc-order-58", date(2023, 8, 1), date(2026, 5, 1), id="2023-05-01-is-58"),
        pytest.param("2026-03-31", "ndrc-order-58", date(2026, 6, 30), date(2029, 3, 31), id="2026-03-31-is-58"),
        pytest.param("2026-04-01", "ndrc-order-36", date(2026, 7, 1), date(2027, 4, 1), id="2026-04-01-is-36"),
    ],
)
def test_the_rule_set_in_force_on_the_decision_date_sets_the_period(
    decided: str, rule_set: str, minimum_end: date, maximum_end: date
) -> None:
    record = penalty(decided, CF_YJ=TAX_LAW)  # an 一般 penalty in every rule set, outside the safety fields
    window = publicity_window(record, RULES, CALENDAR)
    assert (window.rule_set, window.rule_set_version, window.severity) == (rule_set, 1, Severity.GENERAL)
    assert (window.minimum_end, window.maximum_end) == (minimum_end, maximum_end)


def test_serious_penalty_under_527_has_six_months_to_three_years() -> None:
    window = publicity_window(penalty("2023-04-30", ("吊销许可证件",), CF_NR_ZKDX="食品经营许可证"), RULES, CALENDAR)
    assert (window.severity, window.minimum_end, window.maximum_end) == (
        Severity.SERIOUS,
        date(2023, 10, 30),
        date(2026, 4, 30),
    )


@pytest.mark.parametrize(
    ("decided", "published"),
    [
        pytest.param("2026-03-31", True, id="order-58-publishes-a-warning"),
        pytest.param("2026-04-01", False, id="order-36-does-not"),
    ],
)
def test_a_warning_is_published_until_order_36_takes_effect(decided: str, published: bool) -> None:
    record = penalty(decided, ("警告",), CF_NR_FK=None)
    decision = should_publish(
        record, PENALTY, subject_kind="legal_person", as_of=date(2026, 4, 20), rules=RULES, calendar=CALENDAR
    )
    assert decision.publish is published
    if not published:
        assert decision.reason == "ndrc-order-36: 轻微 penalties are not published"
        assert decision.window is not None
        assert decision.window.severity is Severity.MINOR


def test_order_36_ministry_setting_publishes_minor_penalties_for_three_months_at_most() -> None:
    penalty_rules = RULES.rule_sets[-1].penalty
    minor = penalty_rules.minor_publication
    assert minor is not None
    assert minor.departments == frozenset()  # off by default
    switched = penalty_rules.model_copy(
        update={"minor_publication": minor.model_copy(update={"departments": frozenset({"AMR"})})}
    )
    rules = PublicityRules(
        (*RULES.rule_sets[:-1], RULES.rule_sets[-1].model_copy(update={"penalty": switched})), RULES.severity
    )
    window = publicity_window(penalty("2026-05-11", ("警告",), CF_NR_FK=None), rules, CALENDAR)
    assert window.publish
    assert (window.minimum_end, window.maximum_end) == (date(2026, 5, 11), date(2026, 8, 11))


def test_order_58_safety_field_penalty_has_a_one_year_minimum() -> None:
    food = publicity_window(penalty("2025-06-10"), RULES, CALENDAR)  # CF_YJ cites 食品安全法
    tax = publicity_window(penalty("2025-06-10", CF_YJ=TAX_LAW), RULES, CALENDAR)
    assert (food.minimum_end, food.maximum_end) == (date(2026, 6, 10), date(2028, 6, 10))
    assert food.reason == "ndrc-order-58: 一般 → 12-36 months, safety field 食品 (食品安全法)"
    assert tax.minimum_end == date(2025, 9, 10)


def test_safety_minimum_does_not_apply_under_order_36() -> None:
    assert publicity_window(penalty("2026-06-10"), RULES, CALENDAR).minimum_end == date(2026, 9, 10)


def test_several_penalty_kinds_take_the_longest_period() -> None:
    single = publicity_window(penalty("2026-05-11", ("罚款",), CF_NR_FK=0.5), RULES, CALENDAR)
    several = publicity_window(
        penalty("2026-05-11", ("警告", "罚款", "吊销许可证件"), CF_NR_FK=0.5, CF_NR_ZKDX="食品经营许可证"),
        RULES,
        CALENDAR,
    )
    assert not single.publish  # a small fine alone is 轻微
    assert (several.severity, several.minimum_end, several.maximum_end) == (
        Severity.SERIOUS,
        date(2027, 5, 11),
        date(2029, 5, 11),
    )


# --- severity -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kinds", "data", "kind", "severity"),
    [
        pytest.param(("警告",), {"CF_NR_FK": None}, "legal_person", Severity.MINOR, id="warning"),
        pytest.param(("通报批评",), {"CF_NR_FK": None}, "legal_person", Severity.MINOR, id="public-criticism"),
        pytest.param(("罚款",), {"CF_NR_FK": 9.999999}, "legal_person", Severity.MINOR, id="org-fine-below-10"),
        pytest.param(
            ("罚款",), {"CF_NR_FK": 10}, "legal_person", Severity.GENERAL, id="org-fine-of-exactly-10-is-larger"
        ),
        pytest.param(("罚款",), {"CF_NR_FK": 100}, "legal_person", Severity.SERIOUS, id="org-fine-of-100-is-huge"),
        pytest.param(("罚款",), {"CF_NR_FK": 0.99}, "natural_person", Severity.MINOR, id="person-fine-below-1"),
        pytest.param(("罚款",), {"CF_NR_FK": 1}, "natural_person", Severity.GENERAL, id="person-fine-of-exactly-1"),
        pytest.param(("罚款",), {"CF_NR_FK": 10}, "natural_person", Severity.SERIOUS, id="person-fine-of-10-is-huge"),
        pytest.param(
            ("罚款",), {"CF_NR_FK": 1}, "individual_business", Severity.GENERAL, id="individual-business-as-person"
        ),
        pytest.param(
            ("罚款",), {"CF_NR_FK": None}, "legal_person", Severity.GENERAL, id="fine-without-amount-is-default"
        ),
        pytest.param(
            ("没收违法所得",),
            {"CF_NR_FK": None, "CF_NR_WFFF": 0.1},
            "legal_person",
            Severity.GENERAL,
            id="confiscation",
        ),
        pytest.param(
            ("没收非法财物",),
            {"CF_NR_FK": None, "CF_NR_WFFF": 120},
            "legal_person",
            Severity.SERIOUS,
            id="huge-confiscation",
        ),
        pytest.param(
            ("罚款", "没收违法所得"),
            {"CF_NR_FK": 60, "CF_NR_WFFF": 50},
            "legal_person",
            Severity.GENERAL,
            id="fine-60-and-confiscation-50-are-not-summed-to-huge",
        ),
        pytest.param(("暂扣许可证件",), {"CF_NR_FK": None}, "legal_person", Severity.GENERAL, id="suspension"),
        pytest.param(("责令停产停业",), {"CF_NR_FK": None}, "legal_person", Severity.GENERAL, id="stop-business"),
        pytest.param(("吊销许可证件",), {"CF_NR_FK": None}, "legal_person", Severity.SERIOUS, id="revocation"),
        pytest.param(("责令关闭",), {"CF_NR_FK": None}, "legal_person", Severity.SERIOUS, id="closure"),
        pytest.param(("限制从业",), {"CF_NR_FK": None}, "natural_person", Severity.SERIOUS, id="practice-ban"),
        pytest.param(("其他",), {"CF_NR_FK": None}, "legal_person", Severity.GENERAL, id="other"),
    ],
)
def test_severity_from_kinds_and_amounts(
    kinds: tuple[str, ...], data: dict[str, Any], kind: str, severity: Severity
) -> None:
    record = penalty("2026-05-11", kinds, **data)
    record.record["subject"]["kind"] = kind
    found = severity_of(record, RULES.severity)
    assert found.severity is severity
    assert found.reasons


def test_severity_table_covers_every_penalty_kind_of_the_schema() -> None:
    schema = PENALTY.versions[1].schema
    assert set(schema["properties"]["CF_CFLB"]["items"]["enum"]) == set(RULES.severity.penalty_kinds)


def test_a_penalty_underlying_a_serious_untrustworthy_listing_is_serious() -> None:
    record = penalty("2026-05-11", ("罚款",), CF_NR_FK=0.5)
    listing = _example("serious_untrustworthy_listing")
    listing["data"].update({"stage": "认定", "underlying_document_no": record.data["CF_WSH"]})
    notice = copy.deepcopy(listing)
    notice["id"], notice["data"]["stage"] = "AMR-NOTICE-1", "拟列入告知"
    assert listed_document_numbers([_accepted(notice)]) == frozenset()
    listed = listed_document_numbers([_accepted(listing), record])
    found = severity_of(record, RULES.severity, listed_documents=listed)
    assert found.severity is Severity.SERIOUS
    assert any("严重失信主体名单" in reason for reason in found.reasons)


def test_simplified_procedure_rule_cannot_fire_by_default_and_works_through_its_hook() -> None:
    record = penalty("2026-05-11", ("罚款",), CF_NR_FK=20, CF_WSH="示市监简罚〔2026〕3号")
    assert severity_of(record, RULES.severity).severity is Severity.GENERAL  # no marker configured
    procedure = RULES.severity.simplified_procedure.model_validate(
        {"tier": "轻微", "allowed_kinds": ["警告", "罚款"], "markers": [{"field": "CF_WSH", "contains": "简罚"}]}
    )
    table = RULES.severity.model_copy(update={"simplified_procedure": procedure})
    assert severity_of(record, table).severity is Severity.MINOR
    revoked = penalty("2026-05-11", ("罚款", "吊销许可证件"), CF_WSH="示市监简罚〔2026〕4号", CF_NR_ZKDX="许可证")
    found = severity_of(revoked, table)
    assert found.severity is Severity.SERIOUS
    assert any("ignored" in reason for reason in found.reasons)


def test_severity_only_applies_to_penalties() -> None:
    with pytest.raises(ValueError, match="administrative_penalty"):
        severity_of(licence(), RULES.severity)


# --- licensing and the other disclosure types ---------------------------------------------------------


def test_licence_is_published_through_its_validity_and_withdrawn_the_next_day() -> None:
    record = licence("2029-06-30")
    window = publicity_window(record, RULES, CALENDAR)
    assert (window.severity, window.minimum_end, window.maximum_end) == (None, None, date(2029, 6, 30))
    assert window.withdraw_on == date(2029, 7, 1)
    kwargs: dict[str, Any] = {"subject_kind": "legal_person", "rules": RULES, "calendar": CALENDAR}
    assert should_publish(record, LICENCE, as_of=date(2029, 6, 30), **kwargs).publish
    assert not should_publish(record, LICENCE, as_of=date(2029, 7, 1), **kwargs).publish


def test_long_term_licence_has_no_withdrawal_date() -> None:
    window = publicity_window(licence("2099-12-31"), RULES, CALENDAR)
    assert window.publish
    assert window.maximum_end is None
    assert window.is_published_on(date(2090, 1, 1))


def test_licence_marked_invalid_is_not_published() -> None:
    window = publicity_window(licence(status="无效"), RULES, CALENDAR)
    assert not window.publish
    assert "XK_ZT" in window.reason


def test_other_acts_and_inspections_are_published_for_three_years_or_their_own_term() -> None:
    action = _example("administrative_action")
    action["data"].pop("valid_until", None)
    with_term = copy.deepcopy(action)
    with_term["data"]["valid_until"] = "2026-12-31"
    inspection = _accepted(_example("inspection_result"))
    assert publicity_window(_accepted(action), RULES, CALENDAR).maximum_end == add_months(
        date.fromisoformat(action["decision_date"]), 36
    )
    assert publicity_window(_accepted(with_term), RULES, CALENDAR).maximum_end == date(2026, 12, 31)
    assert publicity_window(inspection, RULES, CALENDAR).maximum_end == date(2029, 5, 20)


# --- should_publish: catalogue flag, minors, revocation -----------------------------------------------


def test_non_disclosure_type_is_not_published() -> None:
    listing = _accepted(_example("serious_untrustworthy_listing"))
    listing_type = CATALOGUE.record_types["serious_untrustworthy_listing"]
    decision = should_publish(
        listing, listing_type, subject_kind="legal_person", as_of=date(2026, 6, 1), rules=RULES, calendar=CALENDAR
    )
    assert not decision.publish
    assert "not a disclosure record type" in decision.reason


@pytest.mark.parametrize(
    ("decided", "published"),
    [
        pytest.param("2026-04-30", False, id="minor-on-the-decision-date"),
        pytest.param("2028-04-30", False, id="day-before-18th-birthday"),
        pytest.param("2028-05-01", True, id="on-18th-birthday"),
    ],
)
def test_a_minors_record_is_never_published(decided: str, published: bool) -> None:
    record = person_penalty(MINOR_ID, "李小明", decided, CF_CFLB=["没收违法所得"], CF_NR_FK=None, CF_NR_WFFF=0.2)
    as_of = date.fromisoformat(decided) + timedelta(days=5)
    decision = should_publish(
        record, PENALTY, subject_kind="natural_person", as_of=as_of, rules=RULES, calendar=CALENDAR
    )
    assert decision.publish is published
    if not published:
        assert "minor" in decision.reason


def test_a_revoked_record_leaves_publication_on_the_revocation_date() -> None:
    record = penalty("2026-05-11", ("吊销许可证件",), CF_NR_ZKDX="食品经营许可证")
    revocation = _example("record_revocation")
    revocation["decision_date"] = revocation["data"]["decision_date"] = "2026-07-01"
    revocation["data"]["target_record_id"] = record.record_id
    (effective,) = effective_records([record, _accepted(revocation)], keep_revoked=True)
    kwargs: dict[str, Any] = {"subject_kind": "legal_person", "rules": RULES, "calendar": CALENDAR}
    assert should_publish(effective, PENALTY, as_of=date(2026, 6, 30), **kwargs).publish
    gone = should_publish(effective, PENALTY, as_of=date(2026, 7, 1), **kwargs)
    assert not gone.publish
    assert gone.reason.startswith(f"revoked by {revocation['id']} on 2026-07-01")


# --- masking ------------------------------------------------------------------------------------------


def test_natural_persons_id_number_and_name_are_masked_and_shared_fields_removed() -> None:
    record = person_penalty(PERSON_ID, "张三", BZ="内部备注")
    view = public_view(PENALTY, PENALTY.versions[1], record.data, subject_kind="natural_person")
    assert view["CF_XDR_ZJHM"] == "110105********002X"
    assert view["CF_XDR_MC"] == "张*"
    assert view["CF_WSH"] == record.data["CF_WSH"]
    assert "BZ" not in view
    assert record.data["CF_XDR_ZJHM"] == PERSON_ID  # the input is not changed


def test_a_legal_persons_name_stays_in_clear_and_its_representatives_id_is_removed() -> None:
    data = penalty().data
    view = public_view(PENALTY, PENALTY.versions[1], data, subject_kind="legal_person")
    assert view["CF_XDR_MC"] == "示范县鑫源食品有限公司"
    assert view["CF_FRDB"] == data["CF_FRDB"]
    assert "CF_FR_ZJHM" not in view
    assert "CF_FR_ZJLX" not in view


def test_whistleblower_and_remarks_of_an_inspection_are_absent() -> None:
    inspection_type = CATALOGUE.record_types["inspection_result"]
    envelope = next(
        e
        for e in json.loads((SCHEMAS / "examples" / "inspection_result.json").read_text("utf-8"))
        if "informant" in e["data"]
    )
    envelope["data"]["remarks"] = "举报人要求保密"
    view = public_view(
        inspection_type, inspection_type.versions[1], envelope["data"], subject_kind="individual_business"
    )
    assert "informant" not in view
    assert "remarks" not in view
    assert view["result"] == envelope["data"]["result"]


def test_related_persons_in_an_array_are_masked_and_unknown_fields_removed() -> None:
    listing_type = CATALOGUE.record_types["serious_untrustworthy_listing"]
    data = _example("serious_untrustworthy_listing")["data"]
    data["related_persons"] = [{"role": "法定代表人", "name": "欧阳明华", "id_type": "身份证", "id_number": PERSON_ID}]
    data["not_in_catalogue"] = "泄露"
    view = public_view(listing_type, listing_type.versions[1], data, subject_kind="legal_person")
    assert view["related_persons"] == [
        {"role": "法定代表人", "name": "欧阳**", "id_type": "身份证", "id_number": "110105********002X"}
    ]
    assert "not_in_catalogue" not in view


# --- disclosure clock ---------------------------------------------------------------------------------


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


DUE = Deadline(date(2026, 10, 13), provisional=False)  # decision 2026-09-28 (DOMAIN §4)
DECIDED = date(2026, 9, 28)


@pytest.mark.parametrize(
    ("published", "received", "now", "state", "responsible"),
    [
        pytest.param(None, "2026-09-29 10:00", "2026-10-09 12:00", DisclosureState.PENDING, None, id="pending"),
        pytest.param(
            None,
            "2026-09-29 10:00",
            "2026-10-10 12:00",
            DisclosureState.AT_RISK,
            None,
            id="at-risk-two-working-days-before",
        ),
        pytest.param(
            None, "2026-09-29 10:00", "2026-10-13 23:00", DisclosureState.AT_RISK, None, id="at-risk-on-the-due-day"
        ),
        pytest.param(
            None,
            "2026-09-29 10:00",
            "2026-10-14 00:01",
            DisclosureState.OVERDUE,
            Responsible.EXCHANGE,
            id="overdue-exchange",
        ),
        pytest.param(
            "2026-10-13 23:59",
            "2026-09-29 10:00",
            "2026-11-01 00:00",
            DisclosureState.MET,
            None,
            id="met-on-the-due-day",
        ),
        pytest.param(
            "2026-10-15 09:00",
            "2026-09-29 10:00",
            "2026-11-01 00:00",
            DisclosureState.LATE,
            Responsible.EXCHANGE,
            id="late-exchange",
        ),
        pytest.param(
            "2026-10-15 09:00",
            "2026-10-15 08:59",
            "2026-11-01 00:00",
            DisclosureState.LATE,
            Responsible.DEPARTMENT,
            id="late-department",
        ),
        pytest.param(
            None,
            "2026-10-15 08:59",
            "2026-10-15 09:00",
            DisclosureState.OVERDUE,
            Responsible.DEPARTMENT,
            id="overdue-department",
        ),
    ],
)
def test_disclosure_clock_states(
    published: str | None, received: str, now: str, state: DisclosureState, responsible: Responsible | None
) -> None:
    found = disclosure_state(
        decision_date=DECIDED,
        due=DUE,
        published_at=_at(published) if published else None,
        received_at=_at(received),
        now=_at(now),
        calendar=CALENDAR,
    )
    assert (found.state, found.responsible) == (state, responsible)


def test_a_provisional_deadline_never_makes_anyone_overdue_or_late() -> None:
    due = CALENDAR.disclosure_deadline(date(2026, 12, 28))
    assert due.provisional
    common: dict[str, Any] = {"decision_date": date(2026, 12, 28), "due": due, "calendar": CALENDAR}
    unpublished = disclosure_state(
        published_at=None, received_at=_at("2027-02-01 09:00"), now=_at("2027-03-01 09:00"), **common
    )
    published = disclosure_state(
        published_at=_at("2027-02-01 09:00"), received_at=_at("2027-02-01 09:00"), now=_at("2027-03-01 09:00"), **common
    )
    assert (unpublished.state, unpublished.responsible) == (DisclosureState.AT_RISK, None)
    assert (published.state, published.responsible) == (DisclosureState.MET, None)


def test_disclosure_clock_refuses_a_due_date_before_the_decision() -> None:
    with pytest.raises(ValueError, match="before the decision date"):
        disclosure_state(
            decision_date=date(2026, 10, 20),
            due=DUE,
            published_at=None,
            received_at=_at("2026-10-20 09:00"),
            now=_at("2026-10-20 09:00"),
            calendar=CALENDAR,
        )


# --- loader -------------------------------------------------------------------------------------------


def _copy_rules(tmp_path: Path) -> Path:
    target = tmp_path / "rulesets" / "publicity"
    shutil.copytree(SCHEMAS / "rulesets" / "publicity", target)
    return target


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        pytest.param(
            "ndrc-order-58.yaml", "from: 2023-05-01", "from: 2023-04-30", "overlap or leave a gap", id="overlap"
        ),
        pytest.param("ndrc-order-36.yaml", "from: 2026-04-01", "from: 2026-04-02", "overlap or leave a gap", id="gap"),
        pytest.param(
            "ndrc-order-36.yaml",
            "严重: {publish: true, min_months: 12, max_months: 36}",
            "严重: {publish: true, min_months: 3, max_months: 6}",
            "must not shrink",
            id="serious-shorter-than-general",
        ),
        pytest.param(
            "ndrc-order-36.yaml", "version: 1\n", "version: 1\nversion: 2\n", "duplicate key", id="duplicate-key"
        ),
        pytest.param(
            "severity.yaml",
            "      legal_person:        {larger: 10, huge: 100}\n",
            "",
            "thresholds for exactly",
            id="missing-threshold",
        ),
    ],
)
def test_loader_refuses_inconsistent_rules(tmp_path: Path, file: str, old: str, new: str, message: str) -> None:
    path = _copy_rules(tmp_path) / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(PublicityRulesError, match=message):
        load_publicity_rules(tmp_path)


def test_loader_requires_exactly_one_severity_table(tmp_path: Path) -> None:
    (_copy_rules(tmp_path) / "severity.yaml").unlink()
    with pytest.raises(PublicityRulesError, match="exactly one severity_table"):
        load_publicity_rules(tmp_path)
