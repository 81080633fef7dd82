"""Whether a record is published (DOMAIN §7, §8) and the state of its 7-working-day disclosure clock (§4).

Pure: the date in question (``as_of``, ``now``) is always passed in; nothing reads the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from services.common.amendments import EffectiveRecord
from services.common.calendar import Deadline, WorkingDayCalendar
from services.common.catalogue import RecordType
from services.common.clock import shanghai_date
from services.common.records import AcceptedRecord
from services.publish.rules.minors import minor_on_decision
from services.publish.rules.publicity import PublicityRules, PublicityWindow, publicity_window

NATURAL_PERSON = "natural_person"
AT_RISK_WORKING_DAYS = 2
"""A pending disclosure is at risk when its due date is at most this many working days ahead."""


@dataclass(frozen=True, slots=True)
class Decision:
    publish: bool
    reason: str
    window: PublicityWindow | None = None
    """The publicity window, when the record got as far as the publicity rules."""


def should_publish(
    record: AcceptedRecord | EffectiveRecord,
    record_type: RecordType,
    *,
    subject_kind: str,
    as_of: date,
    rules: PublicityRules,
    calendar: WorkingDayCalendar,
    listed_documents: frozenset[str] = frozenset(),
) -> Decision:
    """Is ``record`` on the portal on ``as_of``? Checked in order, the first "no" wins:

    1. the catalogue marks the type as a disclosure record (``disclosure: true``);
    2. not revoked on or before ``as_of`` (pass an :class:`EffectiveRecord` to make revocations known;
       a corrected record is judged on its corrected data);
    3. not a minor's record: a natural person under 18 on the decision date by the citizen ID, or by the
       envelope's ``subject.birth_date`` for documents that show no age (DOMAIN §8). When the age cannot be
       known the record is published with the person's name hidden (derive, :mod:`.minors`);
    4. the publicity rules publish it (36号令: 轻微 penalties are not published; a licence marked 无效 …);
    5. ``as_of`` lies within the window: on or after the decision, through 公示截止期 (inclusive).
    """
    effective, accepted = (record, record.record) if isinstance(record, EffectiveRecord) else (None, record)
    if accepted.record_type != record_type.name:
        raise ValueError(f"record {accepted.record_id} is a {accepted.record_type}, not a {record_type.name}")
    if not record_type.disclosure:
        return Decision(False, f"{record_type.name} is not a disclosure record type (catalogue)")
    revoked = effective.amendment.revoked_by if effective is not None else None
    if revoked is not None and revoked.decision_date <= as_of:
        why = f": {revoked.data['reason']}" if revoked.data.get("reason") else ""
        return Decision(False, f"revoked by {revoked.record_id} on {revoked.decision_date}{why}")
    if minor_on_decision(accepted, subject_kind):
        return Decision(False, "the subject was a minor on the decision date: minors' records are not published")
    window = publicity_window(accepted, rules, calendar, listed_documents=listed_documents)
    if not window.publish:
        return Decision(False, window.reason, window)
    if as_of < window.starts:
        return Decision(False, f"not decided yet on {as_of}", window)
    if not window.is_published_on(as_of):
        return Decision(
            False, f"publicity period ended on {window.maximum_end} (withdrawn {window.withdraw_on})", window
        )
    until = f"through {window.maximum_end}" if window.maximum_end else "with no end date"
    return Decision(True, f"published {until}: {window.reason}", window)


class DisclosureState(StrEnum):
    PENDING = "pending"
    AT_RISK = "at_risk"
    OVERDUE = "overdue"
    MET = "met"
    LATE = "late"


class Responsible(StrEnum):
    """Who a missed deadline is attributed to."""

    DEPARTMENT = "department"  # the record reached the exchange only after the due date
    EXCHANGE = "exchange"  # the record was there in time; publication was not


@dataclass(frozen=True, slots=True)
class ClockState:
    state: DisclosureState
    due: Deadline
    responsible: Responsible | None
    """Set for overdue and late only."""
    reason: str


def disclosure_state(
    *,
    decision_date: date,
    due: Deadline,
    published_at: datetime | None,
    received_at: datetime,
    now: datetime,
    calendar: WorkingDayCalendar,
) -> ClockState:
    """The 7-working-day clock of one disclosure record, as of ``now`` (all instants tz-aware).

    - published by the end of the due day → ``met``; after it → ``late``;
    - unpublished: past the due day → ``overdue``; due within :data:`AT_RISK_WORKING_DAYS` working days
      (or today) → ``at_risk``; otherwise ``pending``;
    - a missed deadline is the department's when the record was received after the due day, else the
      exchange's;
    - a provisional deadline (its year is not in the calendar yet) never makes anyone late or overdue:
      a record published after it is ``met`` for now, an unpublished one past it is ``at_risk``; the
      caller recomputes once the calendar has the year (DOMAIN §4).

    Raises ``ValueError`` when ``due`` lies before ``decision_date`` (not this record's deadline).
    """
    if due.date < decision_date:
        raise ValueError(f"due date {due.date} is before the decision date {decision_date}")
    arrived_late = shanghai_date(received_at) > due.date
    owner = Responsible.DEPARTMENT if arrived_late else Responsible.EXCHANGE
    when = "received after the due date" if arrived_late else "received in time"
    if published_at is not None:
        if shanghai_date(published_at) <= due.date:
            return ClockState(DisclosureState.MET, due, None, f"published by {due.date}")
        if due.provisional:
            return ClockState(DisclosureState.MET, due, None, f"published after provisional {due.date}: not judged")
        return ClockState(DisclosureState.LATE, due, owner, f"published after {due.date}; {when}")
    today = shanghai_date(now)
    if today > due.date and not due.provisional:
        return ClockState(DisclosureState.OVERDUE, due, owner, f"not published by {due.date}; {when}")
    if today > due.date or due.date <= calendar.add_working_days(today, AT_RISK_WORKING_DAYS).date:
        note = " (provisional: never overdue)" if due.provisional else ""
        return ClockState(DisclosureState.AT_RISK, due, None, f"due {due.date}{note}")
    return ClockState(DisclosureState.PENDING, due, None, f"due {due.date}")
