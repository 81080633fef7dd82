"""Credit repair (信用修复, DOMAIN §9): applications, the deciding department's answers, late steps.

A subject applies after the minimum publicity period of a repairable record, with its 信用承诺 and how it
fulfilled its obligations. The deciding department (谁认定、谁修复: the provider of the record) answers
through ingest with ``repair_decision`` records: 受理 / 不予受理 within 3 working days of the application,
准予修复 / 不予修复 within 7, or 延长办理期限 (+10, with notice). All periods are settings (36号令).

Cases are ``REP-<yyyymmdd>-<8 hex>`` (filing date in Asia/Shanghai). States: ``submitted`` 待受理 →
``accepted`` 已受理 → (``extended`` 已延长办理期限) → ``approved`` 准予修复 | ``refused`` 不予修复; or
``not_accepted`` 不予受理. A department may accept and decide in one step (准予修复 on a submitted case).

The approval's effect does not depend on the case: derive (publish), grading and sanctions read the
准予修复 record itself, so a replay of the record topics rebuilds it (services/common/repairs.py).
"""

from __future__ import annotations

import logging
import secrets
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.amendments import REVOCATION
from services.common.calendar import Deadline
from services.common.clock import SHANGHAI, shanghai_date
from services.common.records import AcceptedRecord
from services.common.repairs import approved_repairs
from services.publish import events, store
from services.publish.announce import announce
from services.publish.context import PublishContext
from services.publish.filing import Refused, subjects_record
from services.publish.rules.derive import Derived, derive_disclosures, public_id

log = logging.getLogger(__name__)

STATE_LABELS = {
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
    "serious_untrustworthy_listing": ("stage", "认定", "listing_period_end"),
}


async def file_repair(
    ctx: PublishContext,
    *,
    record_id: str,
    subject_code: str,
    commitment: str,
    fulfilment: str,
    contact: str,
    raised_by: str,
    trusted: bool,
) -> dict[str, Any]:
    """File an application in one transaction (the case and the ``filed`` event), or refuse it with why."""
    async with ctx.engine.begin() as conn:
        record = await subjects_record(conn, record_id, subject_code, trusted=trusted)
        department, own_id = record.department, record.record_id
        pid = public_id(department, own_id)
        await store.lock_subject(conn, subject_code)
        today = ctx.today()
        file = await store.subject_file(conn, subject_code)
        amendments = await store.amendments_of(conn, department, own_id)
        if record.record_type in LISTINGS:
            _listing_admissible(record, file, amendments, today)
        else:
            derived = {d.public_id: d for d in derive_disclosures(file, ctx.rules, today)}
            _admissible(derived.get(pid), record, amendments, today)
        current = await store.open_repair_of(conn, department, own_id)
        if current is not None:
            message = (
                f"该记录已有正在办理的信用修复申请 {current['id']} (an application for this record is in progress)"
            )
            raise Refused(409, "/record_id", "in_progress", message)
        now = ctx.now()
        filed_on = shanghai_date(now)
        accept_due, decide_due = _dues(ctx, filed_on, extended=False)
        case: dict[str, Any] = {
            "id": f"REP-{filed_on:%Y%m%d}-{secrets.token_hex(4).upper()}",
            "public_id": pid,
            "department": department,
            "record_id": own_id,
            "subject_code": subject_code,
            "raised_by": raised_by,
            "commitment": commitment,
            "fulfilment": fulfilment,
            "contact": contact,
            "state": "submitted",
            "filed_at": now,
            "accept_due": accept_due.date,
            "decide_due": decide_due.date,
            "due_provisional": accept_due.provisional or decide_due.provisional,
        }
        await store.insert_repair(conn, case)
        await announce(conn, ctx, "outcomes.repairs", [events.repair_event("filed", case, now=now)])
    ctx.wake()
    return case


def _listing_admissible(
    record: AcceptedRecord, file: list[AcceptedRecord], amendments: list[AcceptedRecord], today: date
) -> None:
    """A listing can be repaired while it is in force: an entry, not revoked, not removed, not expired."""
    stage_field, entry, end_field = LISTINGS[record.record_type]
    if any(a.record_type == REVOCATION for a in amendments):
        raise Refused(409, "/record_id", "revoked", "该记录已被撤销，无需修复 (the record has been revoked)")
    if record.data.get(stage_field) != entry:
        message = f"请对{entry}决定申请信用修复 (apply for the repair of the {entry} record itself)"
        raise Refused(422, "/record_id", "not_repairable", message)
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
        raise Refused(409, "/record_id", "not_listed", message)
    if approved_repairs(file).get((record.department, record.record_id)) is not None:
        raise Refused(409, "/record_id", "repaired", "该记录已完成信用修复 (the record has already been repaired)")


def _admissible(derived: Derived | None, record: AcceptedRecord, amendments: list[AcceptedRecord], today: date) -> None:
    """Refuse, with the reason the law gives, an application that cannot be granted."""
    if any(a.record_type == REVOCATION for a in amendments):
        raise Refused(409, "/record_id", "revoked", "该记录已被撤销，无需修复 (the record has been revoked)")
    if derived is None:
        message = (
            "该类记录不属于可修复的失信信息，无需申请信用修复 "
            f"(a {record.record_type} record is not public credit-loss information that can be repaired)"
        )
        raise Refused(422, "/record_id", "not_repairable", message)
    if derived.repaired is not None:
        raise Refused(409, "/record_id", "repaired", "该记录已完成信用修复 (the record has already been repaired)")
    if derived.non_repairable is not None:
        message = (
            f"该记录依法不可修复，依据：{derived.non_repairable} "
            f"(the law marks this record non-repairable: {derived.non_repairable})"
        )
        raise Refused(422, "/record_id", "not_repairable", message)
    if derived.repair_from is None:
        message = f"该记录依法不可修复或无需修复：{derived.reason} (this record cannot be repaired: {derived.reason})"
        raise Refused(422, "/record_id", "not_repairable", message)
    if not derived.publish:
        message = f"该记录已不在公示中，无需修复：{derived.reason} (the record is no longer published)"
        raise Refused(409, "/record_id", "not_published", message)
    if today < derived.repair_from:
        message = (
            f"最短公示期届满后方可申请信用修复，可申请日期：{derived.repair_from.isoformat()} "
            f"(repair may be applied for from {derived.repair_from.isoformat()})"
        )
        raise Refused(422, "/record_id", "too_early", message)


def _dues(ctx: PublishContext, filed_on: date, *, extended: bool) -> tuple[Deadline, Deadline]:
    levels, calendar = ctx.settings.service_levels, ctx.calendar
    accept = calendar.add_working_days(filed_on, levels.repair_accept_working_days)
    extra = levels.repair_extension_working_days if extended else 0
    return accept, calendar.add_working_days(filed_on, levels.repair_decide_working_days + extra)


async def apply_decision(conn: AsyncConnection, ctx: PublishContext, decision: AcceptedRecord) -> None:
    """A ``repair_decision`` moves its case on; a decision that does not fit the case is kept, not applied."""
    data = decision.data
    case = await store.repair(conn, str(data.get("repair_id")), for_update=True)
    if case is None or case["department"] != decision.department or case["record_id"] != data.get("target_record_id"):
        log.warning(
            "repair decision names no application of this department and record; kept, not applied to a case",
            extra={"record": decision.event_id, "repair_id": data.get("repair_id")},
        )
        return
    if decision.record_id in case["decision_record_ids"]:
        return
    step = str(data.get("decision"))
    allowed, state = TRANSITIONS.get(step, (frozenset(), case["state"]))
    late_extension = step == "延长办理期限" and shanghai_date(decision.received_at) > case["decide_due"]
    if case["state"] not in allowed or late_extension:
        log.warning(
            "repair decision does not follow the case's state (or extends a period already over); kept as a "
            "record only",
            extra={"record": decision.event_id, "repair_id": case["id"], "state": case["state"], "decision": step},
        )
        return
    at = decision.received_at
    changes: dict[str, Any] = {
        "state": state,
        "decision": step,
        "explanation": data.get("explanation"),
        "decision_record_ids": [*case["decision_record_ids"], decision.record_id],
    }
    if case["accepted_at"] is None and state != "not_accepted":
        changes["accepted_at"] = at  # extending or deciding implies the application was accepted
    if state == "extended":
        changes["extended_at"] = at
        accept_due, decide_due = _dues(ctx, shanghai_date(case["filed_at"]), extended=True)
        changes["decide_due"] = decide_due.date
        changes["due_provisional"] = accept_due.provisional or decide_due.provisional
    if state in FINAL:
        changes["decided_at"] = at
    updated = await store.update_repair(conn, case["id"], changes)
    answered = events.repair_event(
        "answered", updated, now=at, extra={"decision": step, "decision_record_id": decision.record_id}
    )
    await announce(conn, ctx, "outcomes.repairs", [answered])


async def escalate_late(ctx: PublishContext, *, today: date, settle_provisional: bool) -> int:
    """Final due dates where the calendar now covers them; escalate steps past due (one event per step)."""
    now = ctx.now()
    async with ctx.engine.begin() as conn:
        for case in await store.provisional_repairs(conn) if settle_provisional else []:
            accept_due, decide_due = _dues(
                ctx, shanghai_date(case["filed_at"]), extended=case["extended_at"] is not None
            )
            if not (accept_due.provisional or decide_due.provisional):
                await store.update_repair(
                    conn,
                    case["id"],
                    {"accept_due": accept_due.date, "decide_due": decide_due.date, "due_provisional": False},
                )
        late = await store.escalate_late_repairs(conn, today, now)
        outcome = [events.repair_event("escalated", case, now=now, extra={"missed": missed}) for case, missed in late]
        await announce(conn, ctx, "outcomes.repairs", outcome)
    return len(late)


def overdue_step(case: dict[str, Any], today: date) -> str | None:
    """``acceptance`` or ``decision`` when that step is past its (final) due date, else None."""
    if case["state"] in FINAL or case["due_provisional"]:
        return None
    if case["state"] == "submitted" and case["accept_due"] < today:
        return "acceptance"
    return "decision" if case["decide_due"] < today else None


def view(case: dict[str, Any], today: date | None = None) -> dict[str, Any]:
    """The case as its subject sees it (the contact is never shown)."""

    def when(name: str) -> str | None:
        value = case.get(name)
        return value.astimezone(SHANGHAI).isoformat() if value is not None else None

    shown: dict[str, Any] = {
        "repair_id": case["id"],
        "record_id": case["public_id"],
        "subject_code": case["subject_code"],
        "department": case["department"],
        "raised_by": case["raised_by"],
        "commitment": case["commitment"],
        "fulfilment": case["fulfilment"],
        "state": case["state"],
        "state_label": STATE_LABELS[case["state"]],
        "filed_at": when("filed_at"),
        "accept_due": case["accept_due"].isoformat(),
        "decide_due": case["decide_due"].isoformat(),
        "provisional": case["due_provisional"],
        "accepted_at": when("accepted_at"),
        "extended_at": when("extended_at"),
        "decided_at": when("decided_at"),
        "decision": case.get("decision"),
        "explanation": case.get("explanation"),
        "acceptance_escalated_at": when("acceptance_escalated_at"),
        "decision_escalated_at": when("decision_escalated_at"),
    }
    if today is not None:
        shown["overdue"] = overdue_step(case, today)
    return shown
