"""Credit repair (信用修复, DOMAIN §9): applications, the deciding department's answers, late steps.

A subject applies after the minimum publicity period of a repairable record, with its 信用承诺 and how it
fulfilled its obligations. The deciding department (谁认定、谁修复: the provider of the record) answers
through ingest with ``repair_decision`` records: 受理 / 不予受理 within 3 working days of the application,
准予修复 / 不予修复 within 7, or 延长办理期限 (+10, with notice). All periods are settings (36号令).

Cases are ``REP-<yyyymmdd>-<8 hex>`` (filing date in Asia/Shanghai); their states, what moves a case between
them and which applications are refused are in services/publish/rules/cases.py.

The approval's effect does not depend on the case: derive (publish), grading and sanctions read the
准予修复 record itself, so a replay of the record topics rebuilds it (services/common/repairs.py).
"""

from __future__ import annotations

import logging
import secrets
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.calendar import Deadline
from services.common.clock import SHANGHAI, shanghai_date
from services.common.records import AcceptedRecord
from services.publish import events, store
from services.publish.announce import announce
from services.publish.context import PublishContext
from services.publish.filing import Refused, subjects_record
from services.publish.rules.cases import (
    FINAL,
    LISTINGS,
    REPAIR_STATE_LABELS,
    listing_repair_refusal,
    repair_overdue_step,
    repair_refusal,
    repair_step,
)
from services.publish.rules.derive import derive_disclosures, public_id

log = logging.getLogger(__name__)


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
        record = await subjects_record(conn, ctx.schema, record_id, subject_code, trusted=trusted)
        department, own_id = record.department, record.record_id
        pid = public_id(department, own_id)
        await store.lock_subject(conn, ctx.schema, subject_code)
        today = ctx.today()
        file = await store.subject_file(conn, ctx.schema, subject_code)
        amendments = await store.amendments_of(conn, ctx.schema, department, own_id)
        if record.record_type in LISTINGS:
            refusal = listing_repair_refusal(record, file, amendments, today)
        else:
            derived = {d.public_id: d for d in derive_disclosures(file, ctx.rules, today)}
            refusal = repair_refusal(derived.get(pid), record, amendments, today)
        if refusal is not None:
            raise Refused(refusal.status, refusal.path, refusal.code, refusal.message)
        current = await store.open_repair_of(conn, ctx.schema, department, own_id)
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
        await store.insert_repair(conn, ctx.schema, case)
        await announce(conn, ctx, "outcomes.repairs", [events.repair_event("filed", case, now=now)])
    ctx.wake()
    return case


def _dues(ctx: PublishContext, filed_on: date, *, extended: bool) -> tuple[Deadline, Deadline]:
    levels, calendar = ctx.settings.service_levels, ctx.calendar
    accept = calendar.add_working_days(filed_on, levels.repair_accept_working_days)
    extra = levels.repair_extension_working_days if extended else 0
    return accept, calendar.add_working_days(filed_on, levels.repair_decide_working_days + extra)


async def apply_decision(conn: AsyncConnection, ctx: PublishContext, decision: AcceptedRecord) -> None:
    """A ``repair_decision`` moves its case on; a decision that does not fit the case is kept, not applied."""
    data = decision.data
    case = await store.repair(conn, ctx.schema, str(data.get("repair_id")), for_update=True)
    if case is None or case["department"] != decision.department or case["record_id"] != data.get("target_record_id"):
        log.warning(
            "repair decision names no application of this department and record; kept, not applied to a case",
            extra={"record": decision.event_id, "repair_id": data.get("repair_id")},
        )
        return
    if decision.record_id in case["decision_record_ids"]:
        return
    step = str(data.get("decision"))
    state = repair_step(case, step, shanghai_date(decision.received_at))
    if state is None:
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
    updated = await store.update_repair(conn, ctx.schema, case["id"], changes)
    answered = events.repair_event(
        "answered", updated, now=at, extra={"decision": step, "decision_record_id": decision.record_id}
    )
    await announce(conn, ctx, "outcomes.repairs", [answered])


async def escalate_late(ctx: PublishContext, *, today: date, settle_provisional: bool) -> int:
    """Final due dates where the calendar now covers them; escalate steps past due (one event per step)."""
    now = ctx.now()
    async with ctx.engine.begin() as conn:
        for case in await store.provisional_repairs(conn, ctx.schema) if settle_provisional else []:
            accept_due, decide_due = _dues(
                ctx, shanghai_date(case["filed_at"]), extended=case["extended_at"] is not None
            )
            if not (accept_due.provisional or decide_due.provisional):
                await store.update_repair(
                    conn,
                    ctx.schema,
                    case["id"],
                    {"accept_due": accept_due.date, "decide_due": decide_due.date, "due_provisional": False},
                )
        late = await store.escalate_late_repairs(conn, ctx.schema, today, now)
        outcome = [events.repair_event("escalated", case, now=now, extra={"missed": missed}) for case, missed in late]
        await announce(conn, ctx, "outcomes.repairs", outcome)
    return len(late)


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
        "state_label": REPAIR_STATE_LABELS[case["state"]],
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
        shown["overdue"] = repair_overdue_step(case, today)
    return shown
