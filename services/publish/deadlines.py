"""The 7-working-day disclosure clock per record and per department, as of now (DOMAIN §4, §7). Pure.

Records withheld on purpose (a minor, 轻微 under 36号令, revoked before publication …) have no clock. A
record the exchange published is ``met`` or ``late`` (late attributed to the department when it reached
the exchange after the due date, else to the exchange); one it knows but has not published (a rule-set
gap, a period that ended before it arrived) is ``pending``, ``at_risk`` or ``overdue``. A provisional
due date never makes anyone late or overdue.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from services.common.calendar import Deadline, WorkingDayCalendar
from services.common.clock import SHANGHAI
from services.publish.rules import DisclosureState, disclosure_state

STATES = tuple(s.value for s in DisclosureState)


def clock_entry(row: Mapping[str, Any], *, now: datetime, calendar: WorkingDayCalendar) -> dict[str, Any]:
    due = Deadline(row["due_date"], row["due_provisional"])
    state = disclosure_state(
        decision_date=row["decision_date"],
        due=due,
        published_at=row["published_at"],
        received_at=row["received_at"],
        now=now,
        calendar=calendar,
    )
    published = row["published_at"]
    return {
        "record_id": row["public_id"],
        "department": row["department"],
        "department_record_id": row["record_id"],
        "record_type": row["record_type"],
        "decision_date": row["decision_date"].isoformat(),
        "due": due.date.isoformat(),
        "provisional": due.provisional,
        "received_at": row["received_at"].astimezone(SHANGHAI).isoformat(),
        "published_at": published.astimezone(SHANGHAI).isoformat() if published else None,
        "disclosure": row["state"],
        "state": state.state.value,
        "responsible": state.responsible.value if state.responsible else None,
        "reason": state.reason,
    }


def summary(
    entries: Iterable[Mapping[str, Any]], names: Mapping[str, str], *, split: tuple[str, ...] = ("late", "overdue")
) -> list[dict[str, Any]]:
    """Per department: how many entries are in each clock state, the `split` states also by who is
    responsible (the department or the exchange). Disclosures and withdrawals are counted alike."""
    counts: dict[str, Counter[str]] = {}
    for entry in entries:
        tally = counts.setdefault(entry["department"], Counter())
        tally[entry["state"]] += 1
        if entry["responsible"]:
            tally[f"{entry['state']}_{entry['responsible']}"] += 1
    return [
        {
            "department": department,
            "department_name": names.get(department, department),
            **{state: tally[state] for state in STATES},
            **{f"{state}_{who}": tally[f"{state}_{who}"] for state in split for who in ("department", "exchange")},
        }
        for department, tally in sorted(counts.items())
    ]
