"""Grading a subject from its kept state (`SubjectState`, what the service keeps of it in PostgreSQL instead
of reading its records) gives exactly what grading from its records gives: the same stored grade (its
explanation included), the same subject and the same change events, event by event.

The histories are those of `test_grading_incremental` (penalties of counted and non-counted departments
decided out of order, corrections, revocations and repairs also of records received after them,
registrations, rewards, listings). As the consumer does, the state is extended with each new record when
it can be, else derived from the records again, and goes through its stored form (encode, decode) between
events; an extended state must equal the one derived from all the records.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from hypothesis import given, settings

from services.common.clock import FixedClock
from services.common.records import AcceptedRecord
from services.grading.handlers import GradingContext, Regrading, _last_grade, regradings
from services.grading.rules import load_jurisdiction, load_rule_sets, subject_state
from services.grading.rules.grades import StoredGrade
from services.grading.rules.subject_state import SubjectState, decode, encode, extended, state_of
from tests.unit.test_grading_incremental import histories
from tests.unit.test_grading_rules import COMPANY, SCHEMAS, correction, penalty, registration, repair


@pytest.fixture(scope="module")
def ctx() -> GradingContext:
    rule_sets = load_rule_sets(SCHEMAS)
    return GradingContext(
        rule_sets=rule_sets,
        jurisdiction=load_jurisdiction(SCHEMAS / "jurisdiction.yaml", rule_sets),
        clock=FixedClock(datetime(2026, 12, 7, 4, tzinfo=UTC)),
        outcomes_topic="outcomes",
        audit_topic="audit",
    )


def _fresh(records: list[AcceptedRecord]) -> list[AcceptedRecord]:
    return [replace(r) for r in records]


def _answers(steps: list[Regrading]) -> list[tuple[object, ...]]:
    return [(s.subject, s.grade, s.event) for s in steps]


class _Path:
    """One subject graded as the consumer grades it from its kept state (extended, else derived again)."""

    def __init__(self) -> None:
        self.state: SubjectState | None = None
        self.current: StoredGrade | None = None
        self.extended = 0

    def receive(self, received: list[AcceptedRecord]) -> SubjectState | None:
        new = extended(self.state, received[-1:]) if self.state is not None else None
        derived = state_of(_fresh(received))
        if new is None:
            new = derived
        else:
            self.extended += 1
            assert new == derived
        self.state = None if new is None else decode(encode(new))
        assert self.state == new
        return self.state


def _grade_both(
    ctx: GradingContext, path: _Path, scratch_current: StoredGrade | None, received: list[AcceptedRecord], day: date
) -> StoredGrade | None:
    state = path.state
    expected = regradings(ctx, COMPANY, _fresh(received), day, scratch_current, including_today=True)
    got = regradings(ctx, COMPANY, state or _fresh(received), day, path.current, including_today=True)
    assert _answers(got) == _answers(expected), day
    path.current = _last_grade(got, path.current)
    return _last_grade(expected, scratch_current)


@settings(max_examples=50, deadline=None, database=None)
@given(events=histories())
def test_grades_from_the_kept_state_equal_grades_from_the_records(
    ctx: GradingContext, events: list[tuple[AcceptedRecord | None, date]]
) -> None:
    path = _Path()
    current: StoredGrade | None = None
    received: list[AcceptedRecord] = []
    for record, day in events:
        if record is None:
            continue  # the records read back as copies: nothing for the state
        received.append(record)
        path.receive(received)
        current = _grade_both(ctx, path, current, received, day)


def test_a_long_history_is_extended_and_a_correction_derives_it_again(ctx: GradingContext) -> None:
    """150 penalties one by one (S8's shape: decided over a few days, counted and not) are each an extension
    of the state; a repair, a correction of the first penalty and a registration after them still grade as
    from the records."""
    path = _Path()
    current: StoredGrade | None = None
    day = date(2026, 12, 7)
    received: list[AcceptedRecord] = []
    for n in range(150):
        department = ("AMR", "AMR", "TAX")[n % 3]
        received.append(
            penalty(str(day - timedelta(days=1 + n % 5)), "罚款", fine=2.5 if n % 7 else 4, department=department)
        )
        path.receive(received)
        current = _grade_both(ctx, path, current, received, day)
    assert path.extended == 149
    for record in (
        repair(received[3], str(day)),
        correction(received[0], str(day), CF_NR_FK=9),
        registration("恢复营业", str(day)),
        penalty(str(day), "警告"),
    ):
        received.append(record)
        path.receive(received)
        current = _grade_both(ctx, path, current, received, day)
        current = _grade_both(ctx, path, current, received, day + timedelta(days=400))
    assert path.extended == 149 + 2  # the registration and the last penalty extend it


def test_a_kind_change_closures_and_a_non_repairable_repair_grade_as_from_the_records(ctx: GradingContext) -> None:
    """What the histories do not draw: a registration that makes the subject an individual business (the
    latest registration says who it is), a closure and a resumption decided the same day, a penalty the law
    marks non-repairable and its approved repair, a penalty decided after the grading day, and the records'
    redelivered copies (an extension that takes nothing)."""
    path = _Path()
    current: StoredGrade | None = None
    day = date(2026, 12, 7)
    marked = {"non_repairable": True, "non_repairable_basis": "527号文 特定严重失信", "version": 2}
    received: list[AcceptedRecord] = [
        penalty(str(day - timedelta(days=10 + n)), "罚款", fine=4 if n % 3 else 0.5) for n in range(18)
    ]
    path.receive(received)
    current = _grade_both(ctx, path, current, received, day)
    fixed = penalty(str(day - timedelta(days=3)), "责令停产停业", **marked)
    for record in (
        fixed,
        registration("停业", str(day - timedelta(days=2))),
        registration("恢复营业", str(day - timedelta(days=2))),
        repair(fixed, str(day - timedelta(days=1))),
        registration("变更", str(day - timedelta(days=1)), kind="individual_business"),
        penalty(str(day + timedelta(days=30)), "警告"),
    ):
        received.append(record)
        path.receive(received)
        again = extended(path.state, received[:1]) if path.state is not None else None
        assert again is None  # a copy of a record it holds: the consumer grades it with the state unchanged
        for later in (0, 31, 400, 800):
            current = _grade_both(ctx, path, current, received, day + timedelta(days=later))
    assert path.state is not None
    assert path.state.subject.kind == "individual_business"
    assert path.extended == 5  # all but the repair (derived again)


def test_a_state_written_by_other_deriving_code_is_not_read() -> None:
    """A kept state holds facts derived by code: a row written before a change to that code must not be read
    (it would grade differently from the records, and from a replay). Its format carries a digest of that
    code, so any other format, the bare layout version of before included, is derived again."""
    records = [penalty(f"2026-11-{1 + i % 28:02d}", "罚款", fine=2) for i in range(20)]
    state = state_of(records)
    assert state is not None
    assert decode(encode(state)) is not None
    plain = orjson.loads(encode(state))
    for other in (1, f"{subject_state.ENCODING}:0000000000000000", None):
        plain["format"] = other
        assert decode(orjson.dumps(plain)) is None
