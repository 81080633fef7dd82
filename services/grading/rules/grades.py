"""From a subject's records to its grade, its stored row, its API answer and its change event.

Pure (no SQL, no HTTP, no wall clock): every function depends only on its arguments, so the consumer, the
ticker, the API and a replay all derive the same thing from the same records. `StoredGrade` is the row
the store keeps (`services/grading/store.py` reads and writes it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from services.common.envelope import CloudEvent
from services.common.outcomes import outcome_event
from services.common.records import AcceptedRecord
from services.common.repairs import approved_repairs
from services.common.vocabulary import EventType, RecordTypeName, event_kind
from services.grading.rules import (
    GradeResult,
    RuleSetLookupError,
    RuleSets,
    build_credit_file,
    evaluate,
    rule_set_version_for,
)
from services.grading.rules.subject_records import SubjectRecords, subject_rank
from services.grading.rules.subject_state import SubjectState

SERVICE = "grading"
REGISTRATION = RecordTypeName.SUBJECT_REGISTRATION


@dataclass(frozen=True, slots=True)
class StoredGrade:
    """A subject's grade under one rule set, as last computed (row of `<schema>.grades`)."""

    code: str
    rule_set: str
    rule_set_version: int | None
    grade: str | None
    since: date | None
    next_review: date | None
    review_on: date | None
    """When the ticker looks again: next_review, or the start of the rule set's next version if sooner."""
    supervision_level: str | None
    reason: str
    subject_kind: str
    explanation: list[dict[str, str]]
    computed_on: date


@dataclass(frozen=True, slots=True)
class Subject:
    code: str
    kind: str
    name: str


def subject_of(code: str, records: Sequence[AcceptedRecord]) -> Subject:
    """Who the records are about, from their envelopes' `subject`: the latest registration record's if
    there is one (the registration authority's word), else the latest record's. Order-independent: the
    latest by (decision date, receipt time, department, record id), never by arrival."""
    if not records:
        raise ValueError(f"no records about {code}")
    if isinstance(records, SubjectState):
        return Subject(code=code, kind=records.subject.kind, name=records.subject.name)
    named_by = records.named_by if isinstance(records, SubjectRecords) else None
    subject = (named_by or max(records, key=subject_rank)).record["subject"]
    return Subject(code=code, kind=str(subject["kind"]), name=str(subject.get("name", "")))


def compute(
    records: Sequence[AcceptedRecord], subject: Subject, rule_sets: RuleSets, rule_set_id: str, as_of: date
) -> GradeResult:
    """The subject's grade on `as_of` under the version of `rule_set_id` in force that day.

    Raises RuleSetLookupError (unknown rule set, or none of its versions in force on as_of) and
    ValueError (an unknown subject kind)."""
    version = rule_set_version_for(rule_sets, rule_set_id, as_of)
    result = evaluate(records, version, as_of, subject_kind=subject.kind)
    return _since_repair(result, records, rule_sets, rule_set_id, subject.kind)


def _since_repair(
    result: GradeResult, records: Sequence[AcceptedRecord], rule_sets: RuleSets, rule_set_id: str, kind: str
) -> GradeResult:
    """A grade a credit repair brought took effect on the repair's date, not when the rules would date it
    had the repaired record never existed: the record was right when decided (unlike a revoked one)."""
    if isinstance(records, SubjectState):
        days = records.repair_days
    else:
        repairs = records.repairs if isinstance(records, SubjectRecords) else approved_repairs(records)
        days = frozenset(r.decision_date for r in repairs.values())
    repaired = sorted(days, reverse=True)
    for day in repaired:
        if day > result.as_of or (result.since is not None and day <= result.since):
            continue
        before = day - timedelta(days=1)
        try:
            version = rule_set_version_for(rule_sets, rule_set_id, before)
        except RuleSetLookupError:
            return result  # the rule set did not exist the day before: nothing to compare with
        earlier = evaluate(records, version, before, subject_kind=kind)
        if earlier.grade != result.grade:
            return replace(result, since=day)
    return result


def explanation_json(result: GradeResult) -> list[dict[str, str]]:
    """The explanation's items (`Explanation.json`, shared: never mutate them)."""
    return [e.json for e in result.explanation]


def answer(subject: Subject, result: GradeResult) -> dict[str, Any]:
    """API.md's body of `GET /v1/subjects/{code}/grade`, with `rule_set_version` and `subject_kind` added."""
    return {
        "code": subject.code,
        "rule_set": result.rule_set,
        "rule_set_version": result.rule_set_version,
        "as_of": result.as_of.isoformat(),
        "subject_kind": subject.kind,
        "grade": result.grade,
        "reason": result.reason,
        "since": _iso(result.since),
        "next_review": _iso(result.next_review),
        "supervision_level": result.supervision_level,
        "explanation": explanation_json(result),
    }


def stored(subject: Subject, result: GradeResult, rule_sets: RuleSets) -> StoredGrade:
    return StoredGrade(
        code=subject.code,
        rule_set=result.rule_set,
        rule_set_version=result.rule_set_version,
        grade=result.grade,
        since=result.since,
        next_review=result.next_review,
        review_on=review_on(result, rule_sets),
        supervision_level=result.supervision_level,
        reason=result.reason,
        subject_kind=subject.kind,
        explanation=explanation_json(result),
        computed_on=result.as_of,
    )


def review_on(result: GradeResult, rule_sets: RuleSets) -> date | None:
    """The first day after as_of on which the stored answer may change with no new record (the grade, or
    only its explanation: ``next_refresh``), or the day the rule set's next version takes effect, whichever
    comes first."""
    rule_set = rule_sets[result.rule_set]
    upcoming = [v.effective_from for v in rule_set.versions if v.effective_from > result.as_of]
    refresh = result.next_refresh or result.next_review
    candidates = [d for d in (refresh, min(upcoming, default=None)) if d is not None]
    return min(candidates, default=None)


def changed(previous: StoredGrade | None, new: StoredGrade) -> bool:
    """A change the county platform must hear about: the grade or the supervision level moved. The first
    grade of a subject is a change from null (a subject the rule set does not grade never is)."""
    old_grade = previous.grade if previous else None
    old_level = previous.supervision_level if previous else None
    return (old_grade, old_level) != (new.grade, new.supervision_level)


def effective_date(
    previous: StoredGrade | None, new: StoredGrade, records: Sequence[AcceptedRecord], subject_kind: str
) -> date:
    """The day the new state took effect: the grade's `since` when the grade moved; for a change of the
    supervision level alone, the registration record that moved it (industry risk, region, 注销)."""
    if (previous.grade if previous else None) != new.grade and new.since is not None:
        return new.since
    file = build_credit_file(records, as_of=new.computed_on, subject_kind=subject_kind)
    if file.registrations:
        return max(file.registrations[-1].decided_on, new.since or file.registrations[-1].decided_on)
    return new.since or new.computed_on


def change_event(
    previous: StoredGrade | None, new: StoredGrade, *, effective: date, record_count: int, time: datetime
) -> CloudEvent:
    """`cn.credit.grade.changed`, keyed by the subject code.

    The id is deterministic (a replay of the same records in the same order gives the same ids) and
    unique per change: the number of records the grade rests on tells apart a grade that returns to a
    state it had before (B → A by revocation → B by a new penalty on the same day)."""
    level = new.supervision_level or "-"
    event_id = f"{SERVICE}:{new.code}:{new.rule_set}:{effective.isoformat()}:{new.grade or '-'}:{level}:{record_count}"
    data = {
        "code": new.code,
        "old_grade": previous.grade if previous else None,
        "new_grade": new.grade,
        "rule_set": new.rule_set,
        "rule_set_version": new.rule_set_version,
        "effective_date": effective.isoformat(),
        "reason": new.reason,
        "subject_kind": new.subject_kind,
        "supervision_level": new.supervision_level,
        "old_supervision_level": previous.supervision_level if previous else None,
        # The records the grade rests on: sanctions suspends the grade's case while one is disputed (异议).
        "explanation_records": explanation_records(new.explanation),
    }
    return outcome_event(
        service=SERVICE,
        kind=event_kind(EventType.GRADE_CHANGED),
        subject=new.code,
        event_id=event_id,
        time=time,
        data=data,
    )


def explanation_records(explanation: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """Each (department, record id) the explanation names, once, in a stable order."""
    keys = sorted({(e["department"], e["record_id"]) for e in explanation})
    return [{"department": department, "record_id": record_id} for department, record_id in keys]


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
