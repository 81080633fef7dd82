"""Objections (异议, DOMAIN §9): filing a case and showing its state. The answer arrives as an
``objection_verification`` record (services/publish/handlers.py); late answers are escalated on tick.

A case is ``OBJ-<yyyymmdd>-<8 hex>`` (filing date in Asia/Shanghai). States: ``verifying`` 核实中 →
``escalated`` 逾期未核实 (still awaiting the answer) → ``rejected`` 不属实 (flag cleared) or ``upheld`` 属实
(the flag stays until the provider's correction or revocation arrives, then ``resolved``).
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from services.common.amendments import AMENDMENT_TYPES, REVOCATION
from services.common.clock import SHANGHAI, shanghai_date
from services.publish import events, store
from services.publish.announce import announce
from services.publish.context import PublishContext
from services.publish.filing import Refused, subjects_record
from services.publish.rules.derive import public_id

STATE_LABELS = {
    "verifying": "核实中",
    "escalated": "逾期未核实，已督办",
    "upheld": "异议属实，待信息提供部门更正或撤销",
    "resolved": "异议属实，已更正或撤销",
    "rejected": "异议不属实，维持原记录",
}
AWAITING = frozenset({"verifying", "escalated"})
NOT_OBJECTABLE = frozenset({*AMENDMENT_TYPES, "objection_verification", "sanction_feedback", "repair_decision"})


async def file_objection(
    ctx: PublishContext, *, record_id: str, subject_code: str, reason: str, contact: str, raised_by: str, trusted: bool
) -> dict[str, Any]:
    """File a case in one transaction: the case, the record's 异议处理中 flag, the ``filed`` event
    (``trusted``: see :func:`~services.publish.filing.subjects_record`)."""
    async with ctx.engine.begin() as conn:
        record = await subjects_record(conn, record_id, subject_code, trusted=trusted)
        department, own_id = record.department, record.record_id
        if record.record_type in NOT_OBJECTABLE:
            message = "请对原始记录提出异议 (object to the original record, not to this one)"
            raise Refused(422, "/record_id", "not_objectable", message)
        await store.lock_subject(conn, subject_code)
        if any(a.record_type == REVOCATION for a in await store.amendments_of(conn, department, own_id)):
            message = "该记录已被撤销，无需异议 (the record has already been revoked)"
            raise Refused(409, "/record_id", "revoked", message)
        now = ctx.now()
        filed_on = shanghai_date(now)
        due = ctx.calendar.add_working_days(filed_on, ctx.settings.service_levels.objection_verification_working_days)
        objection_id = f"OBJ-{filed_on:%Y%m%d}-{secrets.token_hex(4).upper()}"
        case: dict[str, Any] = {
            "id": objection_id,
            "public_id": public_id(department, own_id),
            "department": department,
            "record_id": own_id,
            "subject_code": subject_code,
            "raised_by": raised_by,
            "reason": reason,
            "contact": contact,
            "state": "verifying",
            "filed_at": now,
            "due_date": due.date,
            "due_provisional": due.provisional,
        }
        await store.insert_objection(conn, case)
        await store.refresh_objection_flag(conn, department, own_id)
        filed = events.objection_filed(
            objection_id=objection_id, department=department, record_id=own_id, subject_code=subject_code, filed_at=now
        )
        await announce(conn, ctx, "outcomes.objections", [filed])
    ctx.wake()
    return case


def is_overdue(case: dict[str, Any], today: date) -> bool:
    """Still awaiting the provider's answer after its (final) due date."""
    return bool(case["state"] in AWAITING and not case["due_provisional"] and case["due_date"] < today)


def view(case: dict[str, Any]) -> dict[str, Any]:
    """The case as its subject sees it (the filer's contact is never shown)."""

    def when(name: str) -> str | None:
        value = case.get(name)
        return value.astimezone(SHANGHAI).isoformat() if value is not None else None

    return {
        "objection_id": case["id"],
        "record_id": case["public_id"],
        "subject_code": case["subject_code"],
        "raised_by": case["raised_by"],
        "reason": case["reason"],
        "state": case["state"],
        "state_label": STATE_LABELS[case["state"]],
        "filed_at": when("filed_at"),
        "due": case["due_date"].isoformat(),
        "provisional": case["due_provisional"],
        "escalated_at": when("escalated_at"),
        "answered_at": when("answered_at"),
        "outcome": case.get("outcome"),
        "explanation": case.get("explanation"),
        "resolved_at": when("resolved_at"),
    }
