"""Grade one subject: a pure function of (its records, the rule-set version, the as-of date) (DOMAIN §5).

No I/O and no wall clock: the as-of date is an argument, so replaying the same records gives the same
grades. The rule engines answer "what is the grade on day X, from what was decided by as_of"; this
module adds the two answers that need more than one day:

- `next_review`: the first day after as_of on which that answer changes with no new record. Grades change
  only on the days `CreditFile.change_dates` lists, so those are the only candidates to try.
- `since`, when the engine does not define it (chongqing A; every benxi grade): the first day of the
  unbroken run of the current grade that ends on as_of, found by walking the same days backwards; never
  before the establishment date, and the establishment date when nothing changed since.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from services.common.records import AcceptedRecord
from services.grading.rules import benxi, chongqing
from services.grading.rules.credit_file import DAY, CreditFile, build_credit_file
from services.grading.rules.model import (
    SUBJECT_KIND_NAMES,
    Assessment,
    BenxiRules,
    ChongqingRules,
    GradeResult,
    RuleSets,
    RuleSetVersion,
)

Engine = Callable[[CreditFile, RuleSetVersion, date], Assessment]
ENGINES: dict[str, Engine] = {"benxi": benxi.assess, "chongqing": chongqing.assess}
Grader = Callable[[CreditFile, RuleSetVersion, date], str]


def _benxi_grade(file: CreditFile, rule_set: RuleSetVersion, day: date) -> str:
    return benxi.assess(file, rule_set, day).grade


GRADERS: dict[str, Grader] = {"benxi": _benxi_grade, "chongqing": chongqing.grade_on}
"""`assess(...).grade` alone, for the days whose grade is all that is asked (the searches below): an
engine may answer it without writing the explanation, which is as long as the history it names."""


class RuleSetLookupError(LookupError):
    """No such rule set, or none of its versions is in force on the date asked about."""


def rule_set_version_for(rule_sets: RuleSets, rule_set_id: str, as_of: date) -> RuleSetVersion:
    """The version of `rule_set_id` in force on `as_of` (the latest with effective_from <= as_of)."""
    rule_set = rule_sets.get(rule_set_id)
    if rule_set is None:
        raise RuleSetLookupError(f"unknown grading rule set {rule_set_id!r}; known: {', '.join(sorted(rule_sets))}")
    version = rule_set.version_on(as_of)
    if version is None:
        first = rule_set.versions[0].effective_from
        raise RuleSetLookupError(f"rule set {rule_set_id} is not in force on {as_of} (its first version: {first})")
    return version


def evaluate(
    records: Sequence[AcceptedRecord], rule_set: RuleSetVersion, as_of: date, *, subject_kind: str
) -> GradeResult:
    """Grade the subject whose records (all of them, amendments included) are `records`, on `as_of`.

    Raises ValueError for an unknown subject kind. Records decided after as_of are ignored; corrections
    and revocations apply whenever they were decided (a record is judged as it should have been).
    """
    if subject_kind not in SUBJECT_KIND_NAMES:
        raise ValueError(f"unknown subject kind {subject_kind!r}; expected one of {', '.join(SUBJECT_KIND_NAMES)}")
    if subject_kind not in rule_set.subject_kinds:
        chinese, english = SUBJECT_KIND_NAMES[subject_kind]
        rule_set_id = rule_set.rule_set_id
        reason = f"规则集 {rule_set_id} 不对{chinese}分级 (rule set {rule_set_id} does not grade {english})"
        return GradeResult(None, reason, None, None, None, (), rule_set.rule_set_id, rule_set.version, as_of)

    severity = rule_set.rules.severity if isinstance(rule_set.rules, BenxiRules) else None
    file = build_credit_file(records, as_of=as_of, subject_kind=subject_kind, severity=severity)
    assess, grade = ENGINES[rule_set.engine], GRADERS[rule_set.engine]
    today = assess(file, rule_set, as_of)
    years = {rule_set.look_back_years}
    if isinstance(rule_set.rules, ChongqingRules):
        years.add(rule_set.rules.repair_years)
    changes = sorted(file.change_dates(years))

    assessed: dict[date, Assessment] = {as_of: today}
    graded: dict[date, str] = {}

    def assessment_on(day: date) -> Assessment:
        # The searches below ask about the same days (next review, next refresh, the run's start): once each.
        found = assessed.get(day)
        if found is None:
            found = assessed[day] = assess(file, rule_set, day)
        return found

    def grade_on(day: date) -> str:
        found = assessed.get(day)
        if found is not None:
            return found.grade
        known = graded.get(day)
        if known is None:
            known = graded[day] = grade(file, rule_set, day)
        return known

    def answer_on(day: date) -> tuple[object, ...]:
        answer = assessment_on(day)
        return (answer.grade, answer.reason, answer.supervision_level, answer.explanation)

    next_review = next((day for day in changes if day > as_of and grade_on(day) != today.grade), None)
    answer_today = (today.grade, today.reason, today.supervision_level, today.explanation)
    later = (day for day in changes if day > as_of and (next_review is None or day <= next_review))
    next_refresh = next((day for day in later if answer_on(day) != answer_today), next_review)
    since = today.since if today.since is not None else _run_start(changes, grade_on, today.grade, as_of, file)
    return GradeResult(
        grade=today.grade,
        reason=today.reason,
        since=since,
        next_review=next_review,
        supervision_level=today.supervision_level,
        explanation=today.explanation,
        rule_set=rule_set.rule_set_id,
        rule_set_version=rule_set.version,
        as_of=as_of,
        next_refresh=next_refresh,
    )


def _run_start(
    changes: Sequence[date], grade_on: Callable[[date], str], grade: str, as_of: date, file: CreditFile
) -> date | None:
    """The first day of the run of `grade` that ends on as_of (clamped to the establishment date)."""
    established = file.establishment_date
    for day in reversed([d for d in changes if d <= as_of]):
        if established is not None and day <= established:
            break
        if grade_on(day - DAY) != grade:
            return day
    return established
