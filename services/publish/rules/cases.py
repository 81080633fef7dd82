"""异议 and 信用修复 cases as state machines: which answer moves a case where, which application may be filed,
when a step is late. Pure: the caller reads the case and the records, applies what is decided here and
writes it back (services/publish/objections.py, repairs.py, handlers.py).

Objections (DOMAIN §9): ``verifying`` 核实中 → ``escalated`` 逾期未核实 (still awaiting the answer) →
``rejected`` 不属实 (flag cleared) or ``upheld`` 属实 (the flag stays until the provider's correction or
revocation arrives, then ``resolved``).

Repairs (DOMAIN §9, 36号令): ``submitted`` 待受理 → ``accepted`` 已受理 → (``extended`` 已延长办理期限) →
``approved`` 准予修复 | ``refused`` 不予修复; or ``not_accepted`` 不予受理. A department may accept and
decide in one step (准予修复 on a submitted case).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.common.amendments import AMENDMENT_TYPES, REVOCATION
from services.common.records import AcceptedRecord
from services.common.repairs import approved_repairs
from services.common.vocabulary import UPHELD_OUTCOMES, RecordTypeName
from services.publish.rules.derive import Derived


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an application cannot be filed: HTTP status, the field, a code and a message for the filer."""

    status: int
    path: str
    code: str
    message: str


# -- objections ---------------------------------------------------------------------------------------

OBJECTION_STATE_LABELS = {
    "verifying": "核实中",
    "escalated": "逾期未核实，已督办",
    "upheld": "异议属实，待信息提供部门更正或撤销",
    "resolved": "异议属实，已更正或撤销",
    "rejected": "异议不属实，维持原记录",
}
AWAITING = frozenset({"verifying", "escalated"})
"""States in which the provider's answer is still awaited (and may be escalated)."""
FLAGGED = frozenset({*AWAITING, "upheld"})
"""States in which the record carries 异议处理中 and everything resting on it is suspended."""
NOT_OBJECTABLE = frozenset(
    {
        *AMENDMENT_TYPES,
        RecordTypeName.OBJECTION_VERIFICATION,
        RecordTypeName.SANCTION_FEEDBACK,
        RecordTypeName.REPAIR_DECISION,
    }
)


@dataclass(frozen=True, slots=True)
class ObjectionAnswer:
    """What a verification (异议核实结果) does to its case."""

    state: str
    upheld: bool
    resolved_at: datetime | None
    resolved_by: str | None


def objection_refusal(record_type: str, amendments: Sequence[AcceptedRecord]) -> Refusal | None:
    """An objection can be raised against an original record that has not been revoked."""
    if record_type in NOT_OBJECTABLE:
        message = "请对原始记录提出异议 (object to the original record, not to this one)"
        return Refusal(422, "/record_id", "not_objectable", message)
    if any(a.record_type == REVOCATION for a in amendments):
        return Refusal(409, "/record_id", "revoked", "该记录已被撤销，无需异议 (the record has already been revoked)")
    return None


def objection_answer(
    verification: AcceptedRecord, filed_at: datetime, amendments: Sequence[AcceptedRecord]
) -> ObjectionAnswer:
    """属实 with a correction or revocation received since the filing: ``resolved`` by the first of them, once
    both it and the answer are there (the same whichever topic was consumed first, live or in a replay);
    属实 without one: ``upheld``; otherwise ``rejected``, closed by the answer itself."""
    upheld = verification.data.get("outcome") in UPHELD_OUTCOMES
    if not upheld:
        return ObjectionAnswer("rejected", False, verification.received_at, verification.record_id)
    corrected = [a for a in amendments if a.received_at >= filed_at]
    if not corrected:
        return ObjectionAnswer("upheld", True, None, None)
    first = corrected[0]
    return ObjectionAnswer("resolved", True, max(verification.received_at, first.received_at), first.record_id)


def objection_overdue(case: dict[str, Any], today: date) -> bool:
    """Still awaiting the provider's answer after its (final) due date."""
    return bool(case["state"] in AWAITING and not case["due_provisional"] and case["due_date"] < today)


# -- repairs ------------------------------------------------------------------------------------------

REPAIR_STATE_LABELS = {
    "submitted": "已提交，待受理",
    "accepted": "已受理，审核中",
    "extended": "已受理，延长办理期限",
    "approved": "准予修复，已停止公示",
    "refused": "不予修复",
    "not_accepted": "不予受理",
}
# decision → (states it may follow, the state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "受理": (frozenset({"submitted"}), "accepted"),
    "不予受理": (frozenset({"submitted"}), "not_accepted"),
    "延长办理期限": (frozenset({"submitted", "accepted"}), "extended"),
    "准予修复": (frozenset({"submitted", "accepted", "extended"}), "approved"),
    "不予修复": (frozenset({"submitted", "accepted", "extended"}), "refused"),
}
FINAL = frozenset({"approved", "refused", "not_accepted"})
LISTINGS: dict[str, tuple[str, str, str]] = {
    # type → (stage field, the entry stage, the field with the last day listed). 001 L659: a subject that
    # corrected its conduct may apply, and is removed from the 严重失信主体名单 when the repair is granted.
    RecordTypeName.SERIOUS_UNTRUSTWORTHY_LISTING: ("stage", "认定", "listing_period_end"),
}


def repair_step(case: dict[str, Any], step: str, decided_on: date) -> str | None:
    """The state a department's decision moves the case to, or None when it does not fit the case's state
    (or extends a period already over): such a decision is kept as a record only."""
    if step not in TRANSITIONS:
        return None
    allowed, state = TRANSITIONS[step]
    late_extension = step == "延长办理期限" and decided_on > case["decide_due"]
    if case["state"] not in allowed or late_extension:
        return None
    return state


def repair_overdue_step(case: dict[str, Any], today: date) -> str | None:
    """``acceptance`` or ``decision`` when that step is past its (final) due date, else None."""
    if case["state"] in FINAL or case["due_provisional"]:
        return None
    if case["state"] == "submitted" and case["accept_due"] < today:
        return "acceptance"
    return "decision" if case["decide_due"] < today else None


def _revoked(amendments: Sequence[AcceptedRecord]) -> Refusal | None:
    if any(a.record_type == REVOCATION for a in amendments):
        return Refusal(409, "/record_id", "revoked", "该记录已被撤销，无需修复 (the record has been revoked)")
    return None


def listing_repair_refusal(
    record: AcceptedRecord, file: Sequence[AcceptedRecord], amendments: Sequence[AcceptedRecord], today: date
) -> Refusal | None:
    """A listing can be repaired while it is in force: an entry, not revoked, not removed, not expired."""
    stage_field, entry, end_field = LISTINGS[record.record_type]
    if (revoked := _revoked(amendments)) is not None:
        return revoked
    if record.data.get(stage_field) != entry:
        message = f"请对{entry}决定申请信用修复 (apply for the repair of the {entry} record itself)"
        return Refusal(422, "/record_id", "not_repairable", message)
    end = record.data.get(end_field)
    removed = any(
        r.record_type == record.record_type
        and r.department == record.department
        and r.data.get("list_name") == record.data.get("list_name")
        and r.data.get(stage_field) == "移出"
        and r.decision_date >= record.decision_date
        for r in file
    )
    if removed or (isinstance(end, str) and end < today.isoformat()):
        message = "该主体已移出名单或名单期限已届满，无需修复 (no longer listed)"
        return Refusal(409, "/record_id", "not_listed", message)
    if approved_repairs(list(file)).get((record.department, record.record_id)) is not None:
        return Refusal(409, "/record_id", "repaired", "该记录已完成信用修复 (the record has already been repaired)")
    return None


def repair_refusal(
    derived: Derived | None, record: AcceptedRecord, amendments: Sequence[AcceptedRecord], today: date
) -> Refusal | None:
    """Refuse, with the reason the law gives, an application for a disclosed record that cannot be granted."""
    if (revoked := _revoked(amendments)) is not None:
        return revoked
    if derived is None:
        message = (
            "该类记录不属于可修复的失信信息，无需申请信用修复 "
            f"(a {record.record_type} record is not public credit-loss information that can be repaired)"
        )
        return Refusal(422, "/record_id", "not_repairable", message)
    if derived.repaired is not None:
        return Refusal(409, "/record_id", "repaired", "该记录已完成信用修复 (the record has already been repaired)")
    if derived.non_repairable is not None:
        message = (
            f"该记录依法不可修复，依据：{derived.non_repairable} "
            f"(the law marks this record non-repairable: {derived.non_repairable})"
        )
        return Refusal(422, "/record_id", "not_repairable", message)
    if derived.repair_from is None:
        message = f"该记录依法不可修复或无需修复：{derived.reason} (this record cannot be repaired: {derived.reason})"
        return Refusal(422, "/record_id", "not_repairable", message)
    if not derived.publish:
        message = f"该记录已不在公示中，无需修复：{derived.reason} (the record is no longer published)"
        return Refusal(409, "/record_id", "not_published", message)
    if today < derived.repair_from:
        message = (
            f"最短公示期届满后方可申请信用修复，可申请日期：{derived.repair_from.isoformat()} "
            f"(repair may be applied for from {derived.repair_from.isoformat()})"
        )
        return Refusal(422, "/record_id", "too_early", message)
    return None
