"""The publish part of the county's department scorecard (000 L121), pure: per department, what fell due in
a month — disclosure deadlines (7 working days), withdrawals of revoked or changed records (3 working days,
行政处罚法 Art. 48), objection answers (20 working days) and repair decisions (7 + 10 working days) — and
whether it was met on time, late, or is still missing. A provisional due date never counts anyone late
(DOMAIN §4).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from services.common.calendar import WorkingDayCalendar
from services.common.clock import shanghai_date
from services.common.scorecard import rate
from services.publish import withdrawals as withdrawal_clock
from services.publish.deadlines import clock_entry


def _timeliness(done_at: datetime | None, due: date, provisional: bool, today: date) -> str:
    if done_at is not None:
        return "on_time" if provisional or shanghai_date(done_at) <= due else "late"
    return "overdue" if not provisional and due < today else "pending"


def disclosures(
    rows: Iterable[Mapping[str, Any]], *, now: datetime, calendar: WorkingDayCalendar
) -> dict[str, Counter[str]]:
    found: dict[str, Counter[str]] = {}
    for row in rows:
        entry = clock_entry(row, now=now, calendar=calendar)
        tally = found.setdefault(entry["department"], Counter())
        tally[entry["state"]] += 1
        if entry["responsible"]:
            tally[f"{entry['state']}_{entry['responsible']}"] += 1
    return found


def withdrawals(
    rows: Iterable[Mapping[str, Any]], *, now: datetime, calendar: WorkingDayCalendar
) -> dict[str, Counter[str]]:
    found: dict[str, Counter[str]] = {}
    for row in rows:
        entry = withdrawal_clock.clock_entry(row, now=now, calendar=calendar)
        tally = found.setdefault(entry["department"], Counter())
        tally[entry["state"]] += 1
        if entry["responsible"]:
            tally[f"{entry['state']}_{entry['responsible']}"] += 1
    return found


def objections(rows: Iterable[Mapping[str, Any]], today: date) -> dict[str, Counter[str]]:
    found: dict[str, Counter[str]] = {}
    for row in rows:
        state = _timeliness(row["answered_at"], row["due_date"], row["due_provisional"], today)
        found.setdefault(row["department"], Counter())[state] += 1
    return found


def repairs(rows: Iterable[Mapping[str, Any]], today: date) -> dict[str, Counter[str]]:
    found: dict[str, Counter[str]] = {}
    for row in rows:
        state = _timeliness(row["decided_at"], row["decide_due"], row["due_provisional"], today)
        found.setdefault(row["department"], Counter())[state] += 1
    return found


def table(parts: Mapping[str, Mapping[str, Counter[str]]], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per department with every part, each with its counts and its on-time rate."""
    departments = sorted({d for part in parts.values() for d in part})
    rows = []
    for department in departments:
        row: dict[str, Any] = {"department": department, "department_name": names.get(department, department)}
        for name in ("disclosures", "withdrawals"):
            shown = parts.get(name, {}).get(department, Counter())
            due = shown["met"] + shown["late"] + shown["overdue"]
            row[name] = {
                "due": due,
                "met": shown["met"],
                "late": shown["late"],
                "late_department": shown["late_department"],
                "late_exchange": shown["late_exchange"],
                "overdue": shown["overdue"],
                "pending": shown["pending"] + shown["at_risk"],
                "met_rate": rate(shown["met"], due),
            }
        for name in ("objections", "repairs"):
            tally = parts[name].get(department, Counter())
            done = tally["on_time"] + tally["late"] + tally["overdue"]
            row[name] = {
                "due": done,
                "on_time": tally["on_time"],
                "late": tally["late"],
                "overdue": tally["overdue"],
                "pending": tally["pending"],
                "on_time_rate": rate(tally["on_time"], done),
            }
        rows.append(row)
    return rows
