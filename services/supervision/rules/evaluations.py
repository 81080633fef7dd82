"""Which evaluation grade a subject holds when (部门和行业信用评价, 002 L159-L175; 公共信用综合评价, 003 L59),
pure: the one reading of the evaluation records that supervision (its evaluations view) and sanctions (the
restriction answer) share. What a grade brings is the measure list's (`evaluation:<scale>:<grade>` triggers
in schemas/measures.yaml), never a table here.

- A `credit_evaluation` with a grade is in force from its `valid_from` (else its decision date) to its
  `valid_until` (inclusive; none: open-ended), and only until the next evaluation of the same scale starts
  (the later one supersedes it; one starting the same day replaces it from the start).
- `run_years`: in how many consecutive evaluation years up to this one (the year its validity starts; the
  latest evaluation decided by then counts for each year) the subject held this grade (连续3年A级, 002 L166).
- The county composite evaluation's band, from its timeline (rules/composite.py), consecutive segments of
  the same band joined.

Corrections apply and revoked records count for nothing (services.common.amendments). No clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from services.common.amendments import effective_records
from services.common.records import AcceptedRecord
from services.common.severity import SeverityTable
from services.supervision.rules.composite import CompositeTable, Segment, timeline

EVALUATION = "credit_evaluation"


@dataclass(frozen=True, slots=True)
class Period:
    scale: str
    grade: str
    department: str
    since: date
    until: date | None
    """Last day in force (inclusive); None: until something changes it."""
    record_id: str
    """The evaluation record, or `<composite id>:<since>` for the composite evaluation."""
    run_years: int = 1
    composite: bool = False

    @property
    def trigger(self) -> str:
        return f"evaluation:{self.scale}:{self.grade}"

    def triggers(self) -> tuple[str, ...]:
        """The measure-list triggers this period answers: the grade, and each streak length it reaches."""
        return (self.trigger, *(f"{self.trigger}:{n}y" for n in range(2, self.run_years + 1)))

    def in_force(self, day: date) -> bool:
        return self.since <= day and (self.until is None or day <= self.until)


def _day(value: object) -> date | None:
    return date.fromisoformat(str(value)) if value else None


def _start(r: AcceptedRecord) -> date:
    return _day(r.data.get("valid_from")) or r.decision_date


def evaluation_periods(records: Sequence[AcceptedRecord]) -> list[Period]:
    """Every graded evaluation of the subject with the days it is in force (superseded ones shortened)."""
    by_scale: dict[str, list[AcceptedRecord]] = {}
    for e in effective_records(records):
        r = e.record
        if r.record_type == EVALUATION and r.data.get("grade") not in (None, "") and r.data.get("scale"):
            by_scale.setdefault(str(r.data["scale"]), []).append(r)
    periods: list[Period] = []
    for scale, found in sorted(by_scale.items()):
        # a re-evaluation from the same day: the one received later is in force (not the larger record id)
        found.sort(key=lambda r: (_start(r), r.decision_date, r.received_at, r.record_id))
        for n, r in enumerate(found):
            since, until = _start(r), _day(r.data.get("valid_until"))
            if n + 1 < len(found):
                ended = _start(found[n + 1]) - timedelta(days=1)
                until = ended if until is None else min(until, ended)
            if until is not None and until < since:
                continue  # superseded from its first day (or a validity that ends before it starts)
            grade = str(r.data["grade"])
            periods.append(Period(scale, grade, r.department, since, until, r.record_id, _run(found, r)))
    return periods


def _run(evaluations: Sequence[AcceptedRecord], e: AcceptedRecord) -> int:
    """Consecutive evaluation years up to e's in which the grade was e's (a later re-evaluation of an earlier
    year does not change a run already reached)."""
    latest: dict[int, AcceptedRecord] = {}
    for x in sorted(evaluations, key=lambda r: (r.decision_date, r.received_at, r.record_id)):
        if x.decision_date <= e.decision_date:
            latest[_start(x).year] = x
    latest[_start(e).year] = e
    year, run = _start(e).year, 0
    while year in latest and latest[year].data.get("grade") == e.data.get("grade"):
        run, year = run + 1, year - 1
    return run


def composite_periods(
    records: Sequence[AcceptedRecord],
    table: CompositeTable,
    severity: SeverityTable,
    segments: Sequence[Segment] | None = None,
) -> list[Period]:
    """The composite evaluation's band over time (`segments`: its timeline, when the caller has it)."""
    found = timeline(records, table, severity) if segments is None else segments
    periods: list[Period] = []
    for s in found:
        if periods and periods[-1].grade == s.band and periods[-1].until == s.valid_from - timedelta(days=1):
            last = periods.pop()
            periods.append(Period(last.scale, last.grade, last.department, last.since, s.valid_until, last.record_id,
                                  composite=True))  # fmt: skip
            continue
        record_id = f"{table.id}:{s.valid_from.isoformat()}"
        periods.append(
            Period(table.title, s.band, table.department, s.valid_from, s.valid_until, record_id, composite=True)
        )
    return periods


def scale_grades(evaluation_scales: Mapping[str, Sequence[str]], table: CompositeTable | None) -> dict[str, list[str]]:
    """Scale → its grades, the composite evaluation's bands included: what `evaluation:` triggers may name."""
    grades = {name: list(g) for name, g in evaluation_scales.items()}
    if table is not None:
        grades[table.title] = [b.band for b in table.bands]
    return grades
