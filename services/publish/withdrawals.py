"""The 3-working-day withdrawal clock (行政处罚法 Art. 48; DOMAIN §4 "withdrawal of a revoked/changed
penalty | revocation event | 3 working days"), per record and per department. Pure.

- **What is on the clock**: a record that was on the portal when its department's revocation or correction
  reached the exchange. A revocation must take it down; a correction must replace the content (the old
  content leaves). A record that was not public then (withheld, expired, repaired) has nothing to withdraw.
- **When it starts**: the amendment's decision date (the revocation or change decision: Art. 48 runs from
  it), not its receipt — a department that reports its revocation too late for the exchange to withdraw in
  time is late itself. Due: the N-th working day after it (start day not counted), N =
  ``service_levels.withdrawal_working_days`` of schemas/jurisdiction.yaml (3).
- **Met / late**: the old content left the portal (``done_at``) by the end of the due day → met; after it →
  late, the department's when the amendment reached the exchange after the due day, else the exchange's. A
  provisional due date never makes anyone late (DOMAIN §4).
- **The notice** (what the public id shows once withdrawn): :mod:`services.publish.rules.withdrawal`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.common.calendar import Deadline, WorkingDayCalendar
from services.common.clock import SHANGHAI
from services.publish import deadlines
from services.publish.rules import disclosure_state
from services.publish.rules.derive import PUBLISHED, WITHDRAWN, Change, Derived, Previous
from services.publish.rules.withdrawal import REVOCATION


@dataclass(frozen=True, slots=True)
class Withdrawal:
    public_id: str
    amendment_id: str
    department: str
    record_id: str
    record_type: str
    kind: str
    decided: date
    received_at: datetime
    due: Deadline
    done_at: datetime


def withdrawal_of(
    before: Previous | None,
    derived: Derived,
    change: Change,
    *,
    now: datetime,
    calendar: WorkingDayCalendar,
    working_days: int,
) -> Withdrawal | None:
    """The clock row when this recomputation applies a new amendment to a record that was on the portal."""
    amendment, received = derived.amendment, derived.amendment_received_at
    if amendment is None or received is None or before is None or before.state != PUBLISHED:
        return None
    shown_before = before.content.get("amendment")
    if isinstance(shown_before, dict) and shown_before.get("amendment_id") == amendment["record_id"]:
        return None  # applied earlier
    taken_down = change.state == WITHDRAWN
    replaced = change.event == "corrected"
    if not (taken_down if amendment["kind"] == REVOCATION else taken_down or replaced):
        return None  # not in force yet (a revocation dated later): the old content is still public
    decided = date.fromisoformat(amendment["decision_date"])
    return Withdrawal(
        public_id=derived.public_id,
        amendment_id=amendment["record_id"],
        department=derived.department,
        record_id=derived.record_id,
        record_type=derived.record_type,
        kind=amendment["kind"],
        decided=decided,
        received_at=received,
        due=calendar.add_working_days(decided, working_days),
        done_at=now,
    )


def clock_entry(row: Mapping[str, Any], *, now: datetime, calendar: WorkingDayCalendar) -> dict[str, Any]:
    """One withdrawal on the clock, as of ``now``: met or late (and whose), or — not yet done — pending."""
    due = Deadline(row["due_date"], row["due_provisional"])
    state = disclosure_state(
        decision_date=row["decided"],
        due=due,
        published_at=row["done_at"],
        received_at=row["received_at"],
        now=now,
        calendar=calendar,
    )
    owner = state.responsible.value if state.responsible else None
    why = {
        "met": f"withdrawn by {due.date}",
        "late": f"withdrawn after {due.date}; the {'revocation' if row['kind'] == REVOCATION else 'correction'} "
        f"was received {'after' if owner == 'department' else 'by'} the due date",
    }
    return {
        "record_id": row["public_id"],
        "department": row["department"],
        "department_record_id": row["record_id"],
        "record_type": row["record_type"],
        "amendment_id": row["amendment_id"],
        "kind": row["kind"],
        "decided": row["decided"].isoformat(),
        "due": due.date.isoformat(),
        "provisional": due.provisional,
        "received_at": row["received_at"].astimezone(SHANGHAI).isoformat(),
        "withdrawn_at": row["done_at"].astimezone(SHANGHAI).isoformat(),
        "state": state.state.value,
        "responsible": owner,
        "reason": why.get(state.state.value, state.reason),
    }


def summary(entries: Iterable[Mapping[str, Any]], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Per department: withdrawals met and late (late split by who is responsible); a withdrawal is never
    counted overdue by whom, so only `late` is split."""
    return deadlines.summary(entries, names, split=("late",))
