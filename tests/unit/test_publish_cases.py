"""异议 and 信用修复 case state machines (services/publish/rules/cases.py): pure, so every transition the
handlers apply is stated here once, including the ones a department gets wrong."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.common.records import AcceptedRecord
from services.publish.rules.cases import (
    FINAL,
    TRANSITIONS,
    objection_answer,
    objection_overdue,
    objection_refusal,
    repair_overdue_step,
    repair_step,
)

FILED = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def record(record_type: str, record_id: str, received_at: datetime, **data: Any) -> AcceptedRecord:
    return AcceptedRecord(
        event_id=f"evt-{record_id}",
        department="AMR",
        record_id=record_id,
        record_type=record_type,
        version=1,
        subject_code="91500000MA5U0000XX",
        decision_date=received_at.date(),
        received_at=received_at,
        record={"data": data},
        receipt={},
    )


def verification(outcome: str, at: datetime) -> AcceptedRecord:
    return record("objection_verification", "V-1", at, outcome=outcome)


def test_a_rejected_objection_is_closed_by_the_answer_itself() -> None:
    at = datetime(2026, 12, 3, tzinfo=UTC)
    answer = objection_answer(verification("不属实", at), FILED, [])
    assert (answer.state, answer.upheld, answer.resolved_at, answer.resolved_by) == ("rejected", False, at, "V-1")


@pytest.mark.parametrize("outcome", ["属实", "部分属实"])
def test_an_upheld_objection_waits_for_the_correction(outcome: str) -> None:
    answer = objection_answer(verification(outcome, datetime(2026, 12, 3, tzinfo=UTC)), FILED, [])
    assert (answer.state, answer.upheld, answer.resolved_at, answer.resolved_by) == ("upheld", True, None, None)


def test_an_upheld_objection_is_resolved_by_the_first_correction_since_filing_whichever_arrived_first() -> None:
    before = record("record_correction", "C-0", datetime(2026, 11, 30, tzinfo=UTC))
    first = record("record_correction", "C-1", datetime(2026, 12, 2, tzinfo=UTC))
    later = record("record_revocation", "C-2", datetime(2026, 12, 5, tzinfo=UTC))
    answered_after = objection_answer(
        verification("属实", datetime(2026, 12, 4, tzinfo=UTC)), FILED, [before, first, later]
    )
    assert (answered_after.state, answered_after.resolved_by) == ("resolved", "C-1")
    assert answered_after.resolved_at == datetime(2026, 12, 4, tzinfo=UTC)  # when both were there
    answered_before = objection_answer(verification("属实", datetime(2026, 12, 1, 5, tzinfo=UTC)), FILED, [first])
    assert answered_before.resolved_at == first.received_at


def test_objections_are_refused_against_amendments_answers_and_revoked_records() -> None:
    assert objection_refusal("administrative_penalty", []) is None
    for kind in ("record_correction", "objection_verification", "sanction_feedback", "repair_decision"):
        refused = objection_refusal(kind, [])
        assert refused is not None
        assert (refused.status, refused.code) == (422, "not_objectable")
    revoked = objection_refusal("administrative_penalty", [record("record_revocation", "R-1", FILED)])
    assert revoked is not None
    assert (revoked.status, revoked.code, revoked.path) == (409, "revoked", "/record_id")


def test_an_objection_is_overdue_only_while_awaited_past_a_final_due_date() -> None:
    def case(state: str, *, provisional: bool = False) -> dict[str, Any]:
        return {"state": state, "due_date": date(2026, 12, 10), "due_provisional": provisional}

    today = date(2026, 12, 11)
    assert objection_overdue(case("verifying"), today)
    assert objection_overdue(case("escalated"), today)
    assert not objection_overdue(case("verifying"), date(2026, 12, 10))
    assert not objection_overdue(case("verifying", provisional=True), today)
    assert not any(objection_overdue(case(s), today) for s in ("upheld", "resolved", "rejected"))


def repair_case(state: str, *, decide_due: date = date(2026, 12, 20), provisional: bool = False) -> dict[str, Any]:
    return {"state": state, "accept_due": date(2026, 12, 4), "decide_due": decide_due, "due_provisional": provisional}


@pytest.mark.parametrize(
    ("state", "step", "expected"),
    [
        ("submitted", "受理", "accepted"),
        ("submitted", "不予受理", "not_accepted"),
        ("submitted", "准予修复", "approved"),  # accepted and decided in one step
        ("accepted", "延长办理期限", "extended"),
        ("extended", "不予修复", "refused"),
        ("accepted", "受理", None),  # accepted twice
        ("extended", "延长办理期限", None),  # only one extension
        ("approved", "不予修复", None),  # a final decision stands
        ("not_accepted", "准予修复", None),
        ("submitted", "同意", None),  # not a decision the rules know
    ],
)
def test_a_repair_decision_moves_the_case_only_where_the_rules_allow(
    state: str, step: str, expected: str | None
) -> None:
    assert repair_step(repair_case(state), step, date(2026, 12, 3)) == expected


def test_an_extension_after_the_decision_period_is_over_is_not_applied() -> None:
    assert repair_step(repair_case("accepted"), "延长办理期限", date(2026, 12, 20)) == "extended"
    assert repair_step(repair_case("accepted"), "延长办理期限", date(2026, 12, 21)) is None


def test_every_transition_leads_out_of_a_non_final_state() -> None:
    for allowed, _ in TRANSITIONS.values():
        assert not allowed & FINAL


def test_a_late_repair_step_is_acceptance_then_decision_never_on_provisional_dates() -> None:
    today = date(2026, 12, 21)
    assert repair_overdue_step(repair_case("submitted"), date(2026, 12, 5)) == "acceptance"
    assert repair_overdue_step(repair_case("submitted"), date(2026, 12, 4)) is None
    assert repair_overdue_step(repair_case("accepted"), today) == "decision"
    assert repair_overdue_step(repair_case("accepted", provisional=True), today) is None
    assert all(repair_overdue_step(repair_case(s), today) is None for s in FINAL)
