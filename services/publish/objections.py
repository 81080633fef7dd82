"""Objections (异议, DOMAIN §9): filing a case and showing its state. The answer arrives as an
``objection_verification`` record (services/publish/handlers.py); late answers are escalated on tick.

A case is ``OBJ-<yyyymmdd>-<8 hex>`` (filing date in Asia/Shanghai); its states and what moves it between
them are in services/publish/rules/cases.py.
"""

from __future__ import annotations

import secrets
from typing import Any

from services.common.clock import SHANGHAI, shanghai_date
from services.publish import events, store
from services.publish.announce import announce
from services.publish.context import PublishContext
from services.publish.filing import Refused, subjects_record
from services.publish.rules.cases import OBJECTION_STATE_LABELS, objection_refusal
from services.publish.rules.derive import public_id


async def file_objection(
    ctx: PublishContext, *, record_id: str, subject_code: str, reason: str, contact: str, raised_by: str, trusted: bool
) -> dict[str, Any]:
    """File a case in one transaction: the case, the record's 异议处理中 flag, the ``filed`` event
    (``trusted``: see :func:`~services.publish.filing.subjects_record`)."""
    async with ctx.engine.begin() as conn:
        record = await subjects_record(conn, ctx.schema, record_id, subject_code, trusted=trusted)
        department, own_id = record.department, record.record_id
        await store.lock_subject(conn, ctx.schema, subject_code)
        amendments = await store.amendments_of(conn, ctx.schema, department, own_id)
        if (refusal := objection_refusal(record.record_type, amendments)) is not None:
            raise Refused(refusal.status, refusal.path, refusal.code, refusal.message)
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
        await store.insert_objection(conn, ctx.schema, case)
        await store.refresh_objection_flag(conn, ctx.schema, department, own_id)
        filed = events.objection_filed(
            objection_id=objection_id, department=department, record_id=own_id, subject_code=subject_code, filed_at=now
        )
        await announce(conn, ctx, "outcomes.objections", [filed])
    ctx.wake()
    return case


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
        "state_label": OBJECTION_STATE_LABELS[case["state"]],
        "filed_at": when("filed_at"),
        "due": case["due_date"].isoformat(),
        "provisional": case["due_provisional"],
        "escalated_at": when("escalated_at"),
        "answered_at": when("answered_at"),
        "outcome": case.get("outcome"),
        "explanation": case.get("explanation"),
        "resolved_at": when("resolved_at"),
    }
