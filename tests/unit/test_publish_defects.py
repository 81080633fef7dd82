"""Issue 15, publish defects: the pure rules behind items 6, 8, 12, 13 and the subject-code normalisation.

Each test is named after the rule it pins (DOMAIN §4, §7-§9)."""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any

import orjson

from services.common.clock import SHANGHAI
from services.common.records import AcceptedRecord
from services.publish.filing import normalise_code
from services.publish.rules import HIDDEN_NAME, hide_name, minor_on_decision, publicity_window, should_publish
from services.publish.rules.derive import DisclosureRules, Previous, derive_disclosures, plan_change
from services.publish.rules.publicity import DEFAULT_NON_REPAIRABLE_BASIS, non_repairable_basis
from services.publish.rules.withdrawal import notice
from services.publish.withdrawals import Withdrawal, clock_entry, withdrawal_of
from tests.unit.test_publish_rules import (
    CALENDAR,
    CATALOGUE,
    MINOR_ID,
    PENALTY,
    PERSON_ID,
    RULES,
    _accepted,
    _example,
    penalty,
    person_penalty,
)

DERIVE_RULES = DisclosureRules(CATALOGUE, RULES, CALENDAR)
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=SHANGHAI)


def _action(decided: str, valid_until: str | None, act_kind: str = "行政强制") -> dict[str, Any]:
    action = _example("administrative_action")
    action["decision_date"] = action["data"]["decision_date"] = decided
    action["data"]["act_kind"] = act_kind
    action["data"].pop("valid_until", None)
    if valid_until is not None:
        action["data"]["valid_until"] = valid_until
    return action


# --- item 6: the rule set's maximum caps every act, whatever its own term --------------------------------


def test_an_administrative_act_valid_past_the_maximum_leaves_publication_at_the_maximum() -> None:
    window = publicity_window(_accepted(_action("2026-11-02", "2031-12-31")), RULES, CALENDAR)
    assert window.maximum_end == date(2029, 11, 2)  # 36 months, not 2031-12-31
    assert window.withdraw_on == date(2029, 11, 3)
    assert "maximum" in window.reason


def test_an_administrative_act_with_a_shorter_term_leaves_at_its_own_term() -> None:
    window = publicity_window(_accepted(_action("2026-11-02", "2026-12-01")), RULES, CALENDAR)
    assert window.maximum_end == date(2026, 12, 1)


def test_the_act_cap_holds_under_every_publicity_rule_set() -> None:
    for decided in ("2022-05-10", "2024-05-10", "2026-05-11"):
        window = publicity_window(_accepted(_action(decided, "2099-12-31")), RULES, CALENDAR)
        start = date.fromisoformat(decided)
        assert window.maximum_end == date(start.year + 3, start.month, start.day), window.rule_set


def test_a_licence_is_not_capped_it_stays_published_while_valid() -> None:
    envelope = copy.deepcopy(_example("administrative_licensing"))
    envelope["data"]["XK_YXQZI"] = "2036-06-30"
    window = publicity_window(_accepted(envelope), RULES, CALENDAR)
    assert window.maximum_end == date(2036, 6, 30)


# --- item 12: a penalty the law marks 不可修复 cannot be repaired; 527 publishes it for the longest period -----


def _non_repairable(decided: str, **data: Any) -> AcceptedRecord:
    return penalty(
        decided, non_repairable=True, non_repairable_basis="发改办财金〔2019〕527号：涉及特定严重失信行为", **data
    )


def test_a_non_repairable_penalty_has_no_repair_date_and_names_its_basis() -> None:
    window = publicity_window(_non_repairable("2026-05-11", CF_NR_FK=20), RULES, CALENDAR)
    assert window.publish
    assert (window.minimum_end, window.repair_from) == (None, None)
    assert window.maximum_end == date(2027, 5, 11)  # order 36 keeps the tier's (一般) period
    assert window.non_repairable == "发改办财金〔2019〕527号：涉及特定严重失信行为"


def test_under_527_a_non_repairable_penalty_is_published_for_the_longest_period() -> None:
    window = publicity_window(_non_repairable("2022-05-10", CF_NR_FK=20), RULES, CALENDAR)
    assert window.rule_set == "ndrc-2019-527"
    assert window.maximum_end == date(2025, 5, 10)  # 严重's 36 months, not 一般's 12
    assert window.repair_from is None


def test_a_penalty_without_the_mark_stays_repairable_and_a_basis_defaults_when_missing() -> None:
    assert publicity_window(penalty("2026-05-11", CF_NR_FK=20), RULES, CALENDAR).repair_from == date(2026, 8, 12)
    assert non_repairable_basis({"non_repairable": False}) is None
    assert non_repairable_basis({"non_repairable": True}) == DEFAULT_NON_REPAIRABLE_BASIS


def test_a_non_repairable_penalty_derives_no_repair_from_and_shows_its_basis() -> None:
    (derived,) = derive_disclosures([_non_repairable("2026-05-11", CF_NR_FK=20)], DERIVE_RULES, date(2026, 9, 1))
    assert derived.publish
    assert derived.repair_from is None
    assert derived.content["repair_from"] is None
    assert derived.non_repairable == derived.content["non_repairable_basis"]


# --- item 13: minors by birth date; a person of unknown age is never named ----------------------------------


def _passport_penalty(
    name: str = "张三丰", birth_date: str | None = None, decided: str = "2026-05-11"
) -> AcceptedRecord:
    record = person_penalty("E12345678", name, decided, CF_SY=f"当事人{name}于2026年4月无照经营。")
    record.data["CF_XDR_ZJLX"] = "护照"
    record.record["subject"]["id_type"] = "护照"
    if birth_date is not None:
        record.record["subject"]["birth_date"] = birth_date
    return record


def test_a_minor_known_by_the_birth_date_is_not_published() -> None:
    record = _passport_penalty(birth_date="2010-05-01")
    assert minor_on_decision(record, "natural_person") is True
    decision = should_publish(
        record, PENALTY, subject_kind="natural_person", as_of=date(2026, 6, 1), rules=RULES, calendar=CALENDAR
    )
    assert not decision.publish
    assert "minor" in decision.reason


def test_the_citizen_id_decides_the_age_before_the_birth_date() -> None:
    record = person_penalty(PERSON_ID, "张三")
    record.record["subject"]["birth_date"] = "2015-01-01"
    assert minor_on_decision(record, "natural_person") is False
    assert minor_on_decision(person_penalty(MINOR_ID, "李小明"), "natural_person") is True


def test_an_adult_known_by_the_birth_date_is_published_with_the_usual_mask() -> None:
    record = _passport_penalty(birth_date="1980-01-01")
    assert minor_on_decision(record, "natural_person") is False
    (derived,) = derive_disclosures([record], DERIVE_RULES, date(2026, 6, 1))
    assert derived.publish
    assert derived.content["subject"]["name"] == "张**"


def test_a_person_of_unknown_age_is_published_without_the_name_in_clear_or_in_part() -> None:
    record = _passport_penalty()
    assert minor_on_decision(record, "natural_person") is None
    (derived,) = derive_disclosures([record], DERIVE_RULES, date(2026, 6, 1))
    assert derived.publish
    assert derived.subject_name == derived.content["subject"]["name"] == HIDDEN_NAME
    assert derived.content["data"]["CF_XDR_MC"] == HIDDEN_NAME
    assert derived.content["data"]["CF_SY"] == f"当事人{HIDDEN_NAME}于2026年4月无照经营。"
    assert derived.content["subject"]["code"] == "E******78"
    assert "张" not in orjson.dumps(derived.content).decode()


def test_organisations_are_never_of_unknown_age() -> None:
    assert minor_on_decision(penalty(), "legal_person") is False
    assert minor_on_decision(penalty(), "individual_business") is False


def test_hide_name_replaces_the_clear_and_the_masked_form_everywhere() -> None:
    body = {"a": "张三丰与张**", "b": ["张三丰"], "c": 3}
    assert hide_name(body, "张三丰") == {"a": "***与***", "b": ["***"], "c": 3}


# --- the subject code a filer types: one normalisation everywhere ---------------------------------------


def test_a_subject_code_is_normalised_to_the_recorded_form() -> None:
    assert normalise_code(" 11010519491231002x ") == "11010519491231002X"
    assert normalise_code("９１５００１０１ma5u7k3pxj") == "91500101MA5U7K3PXJ"


# --- item 8: the 3-working-day withdrawal clock and the withdrawn record's notice ------------------------------


def _revocation_of(record: AcceptedRecord, decided: str, received: str) -> AcceptedRecord:
    revocation = _example("record_revocation")
    revocation["decision_date"] = revocation["data"]["decision_date"] = decided
    revocation["data"].update({"target_record_id": record.record_id, "reason": "复议撤销", "document_no": "示府复1号"})
    return _accepted(revocation, received=received)


def _published(record: AcceptedRecord, as_of: date) -> tuple[Previous, Any]:
    (derived,) = derive_disclosures([record], DERIVE_RULES, as_of)
    change = plan_change(None, derived, NOW)
    return Previous(change.state, change.version, change.published_at, None, derived.content), derived


def _withdrawal(record: AcceptedRecord, amendment: AcceptedRecord, before: Previous | None) -> Withdrawal | None:
    (derived,) = derive_disclosures([record, amendment], DERIVE_RULES, date(2026, 11, 20))
    change = plan_change(before, derived, NOW)
    return withdrawal_of(before, derived, change, now=NOW, calendar=CALENDAR, working_days=3)


def test_a_revoked_published_penalty_is_due_off_the_portal_3_working_days_after_the_revocation_decision() -> None:
    record = penalty("2026-11-02")
    before, _ = _published(record, date(2026, 11, 10))
    clock = _withdrawal(record, _revocation_of(record, "2026-11-13", "2026-11-20T09:00:00+08:00"), before)
    assert clock is not None
    assert (clock.decided, clock.due.date, clock.done_at) == (date(2026, 11, 13), date(2026, 11, 18), NOW)
    assert clock.kind == "record_revocation"


def test_a_record_that_was_not_on_the_portal_has_nothing_to_withdraw() -> None:
    record = penalty("2026-11-02")
    assert _withdrawal(record, _revocation_of(record, "2026-11-13", "2026-11-20T09:00:00+08:00"), None) is None


def test_a_withdrawal_is_clocked_once_per_amendment() -> None:
    record = penalty("2026-11-02")
    revocation = _revocation_of(record, "2026-11-13", "2026-11-20T09:00:00+08:00")
    (derived,) = derive_disclosures([record, revocation], DERIVE_RULES, date(2026, 11, 20))
    already = Previous("published", 2, NOW, None, derived.content)  # content already shows this amendment
    assert _withdrawal(record, revocation, already) is None


def _row(decided: str, received: str, done: str) -> dict[str, Any]:
    decided_on = date.fromisoformat(decided)
    due = CALENDAR.add_working_days(decided_on, 3)
    return {
        "public_id": "AMR.X",
        "department": "AMR",
        "record_id": "X",
        "record_type": "administrative_penalty",
        "amendment_id": "R",
        "kind": "record_revocation",
        "decided": decided_on,
        "received_at": datetime.fromisoformat(received),
        "due_date": due.date,
        "due_provisional": due.provisional,
        "done_at": datetime.fromisoformat(done),
    }


def test_a_revocation_reported_after_the_withdrawal_deadline_is_late_by_the_department() -> None:
    entry = clock_entry(
        _row("2026-11-13", "2026-11-20T09:00:00+08:00", "2026-11-20T09:00:01+08:00"), now=NOW, calendar=CALENDAR
    )
    assert (entry["state"], entry["due"], entry["responsible"]) == ("late", "2026-11-18", "department")


def test_a_revocation_received_in_time_but_withdrawn_late_is_late_by_the_exchange() -> None:
    entry = clock_entry(
        _row("2026-11-13", "2026-11-16T09:00:00+08:00", "2026-11-19T09:00:00+08:00"), now=NOW, calendar=CALENDAR
    )
    assert (entry["state"], entry["responsible"]) == ("late", "exchange")


def test_a_withdrawal_by_the_due_day_is_met() -> None:
    entry = clock_entry(
        _row("2026-11-13", "2026-11-16T09:00:00+08:00", "2026-11-18T23:00:00+08:00"), now=NOW, calendar=CALENDAR
    )
    assert (entry["state"], entry["responsible"]) == ("met", None)


def test_a_revoked_record_notice_gives_the_reason_and_nothing_of_the_content() -> None:
    record = penalty("2026-11-02")
    (derived,) = derive_disclosures(
        [record, _revocation_of(record, "2026-11-13", "2026-11-20T09:00:00+08:00")], DERIVE_RULES, date(2026, 11, 20)
    )
    assert not derived.publish
    shown = notice(derived.content)
    assert shown is not None
    assert (shown["status"], shown["withdrawal"]["reason"], shown["withdrawal"]["document_no"]) == (
        "已撤销",
        "复议撤销",
        "示府复1号",
    )
    assert "data" not in shown
    assert "subject" not in shown


def test_a_corrected_record_still_published_shows_its_reason_and_has_no_notice() -> None:
    record = penalty("2026-11-02")
    correction = _example("record_correction")
    correction["decision_date"] = correction["data"]["decision_date"] = "2026-11-13"
    correction["data"].update(
        {"target_record_id": record.record_id, "corrected_data": {**record.data, "CF_NR_FK": 30}, "reason": "更正金额"}
    )
    (derived,) = derive_disclosures([record, _accepted(correction)], DERIVE_RULES, date(2026, 11, 20))
    assert derived.publish
    assert (derived.content["amendment"]["status"], derived.content["amendment"]["reason"]) == ("已更正", "更正金额")
    assert notice(derived.content) is None


def test_a_record_that_simply_expired_has_no_notice() -> None:
    (derived,) = derive_disclosures([penalty("2024-01-02")], DERIVE_RULES, date(2028, 1, 1))
    assert not derived.publish
    assert notice(derived.content) is None
