"""The outcome events of the publish service (CloudEvents; ids deterministic, see services/common/outcomes.py).

Disclosures, on ``outcomes.disclosures`` — type ``cn.credit.disclosure.<event>``, id
``publish:<public id>:<event>:v<version>``, data::

    {"event": "published" | "withdrawn" | "corrected", "public_id", "record_id" (the department's own),
     "department", "record_type", "subject": {"kind", "name", "code"} (masked for natural persons),
     "decision_date", "published_until" (公示截止期 or null), "reason", "amendment" (the correction or
     revocation in force, or null), "version", "content" (the public body; null when withdrawn)}

Objections, on ``outcomes.objections`` — type ``cn.credit.objection.<event>``, id
``publish:objection:<objection id>:<event>``; ``filed`` carries exactly ``{"objection_id", "department",
"record_id", "subject_code", "filed_at"}`` (the sanctions service consumes it); ``answered`` adds
``outcome``, ``upheld``, ``answered_at``, ``verification_record_id``; ``escalated`` adds ``due`` and
``escalated_at``.

Repairs, on ``outcomes.repairs`` — type ``cn.credit.repair.<event>``, id
``publish:repair:<repair id>:<event>[:<step>]``; every event carries ``{"repair_id", "department",
"record_id", "subject_code", "state", "filed_at", "accept_due", "decide_due", "due_provisional"}``; ``answered`` adds
``decision`` and ``decision_record_id``; ``escalated`` adds ``missed`` (acceptance | decision). The
subject's commitment and contact never leave the service.

Lists, on ``outcomes.lists`` (read by the county platform) — type ``cn.credit.list.<event>`` for 名单
entries (``entered`` / ``exited`` / ``expired``) and ``cn.credit.interview.recorded`` for 约谈, id
``publish:list:<public id>:<event>[:<what caused it>]``, data::

    {"event", "public_id", "record_id", "department", "record_type", "record_type_title", "action"
     (认定 / 列入 / 作出 / 提示约谈 …), "subject" (public form), "decision_date", "listing" (since, until,
     state, end, ended_on, ended_by, end_action), "published" (whether the portal shows it now),
     "published_until", "data" (public and shared fields; masked ones masked; never restricted ones)}

The Kafka key of every event is the subject's code.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from services.common.envelope import CloudEvent
from services.common.outcomes import outcome_event
from services.publish.rules import list_rule
from services.publish.rules.derive import Derived

SERVICE = "publish"


def disclosure_event(event: str, derived: Derived, *, version: int, now: datetime) -> CloudEvent:
    until = derived.publicity_until
    return outcome_event(
        service=SERVICE,
        kind=f"disclosure.{event}",
        subject=derived.subject_code,
        event_id=f"publish:{derived.public_id}:{event}:v{version}",
        time=now,
        data={
            "event": event,
            "public_id": derived.public_id,
            "record_id": derived.record_id,
            "department": derived.department,
            "record_type": derived.record_type,
            "subject": derived.content["subject"],
            "decision_date": derived.decision_date.isoformat(),
            "published_until": until.isoformat() if until else None,
            "reason": derived.reason,
            "amendment": derived.amendment,
            "version": version,
            "content": None if event == "withdrawn" else derived.content,
        },
    )


def list_event(event: str, derived: Derived, *, now: datetime) -> CloudEvent:
    listing = derived.content.get("listing") or {}
    kind = "interview.recorded" if event == "recorded" else f"list.{event}"
    cause = {
        "entered": listing.get("reinstated_after") or "",
        "exited": f"{listing.get('ended_on', '')}:{listing.get('ended_by', '')}",
        "expired": listing.get("ended_on", ""),
    }.get(event, "")
    until = derived.publicity_until
    return outcome_event(
        service=SERVICE,
        kind=kind,
        subject=derived.subject_code,
        event_id=f"publish:list:{derived.public_id}:{event}" + (f":{cause}" if cause else ""),
        time=now,
        data={
            "event": event,
            "public_id": derived.public_id,
            "record_id": derived.record_id,
            "department": derived.department,
            "record_type": derived.record_type,
            "record_type_title": derived.content["record_type_title"],
            "action": _action(derived),
            "subject": derived.content["subject"],
            "decision_date": derived.decision_date.isoformat(),
            "listing": listing,
            "published": derived.publish,
            "published_until": until.isoformat() if until else None,
            "data": derived.shared or {},
        },
    )


def _action(derived: Derived) -> str | None:
    rule = list_rule(derived.record_type)
    data = derived.shared or {}
    value = data.get("interview_kind") if rule is None or rule.action_field is None else data.get(rule.action_field)
    return value if isinstance(value, str) else None


def objection_filed(
    *, objection_id: str, department: str, record_id: str, subject_code: str, filed_at: datetime
) -> CloudEvent:
    return _objection(
        "filed",
        objection_id,
        subject_code,
        filed_at,
        {
            "objection_id": objection_id,
            "department": department,
            "record_id": record_id,
            "subject_code": subject_code,
            "filed_at": filed_at.isoformat(),
        },
    )


def objection_answered(
    case: dict[str, Any], *, outcome: str, upheld: bool, verification_record_id: str, now: datetime
) -> CloudEvent:
    return _objection(
        "answered",
        case["id"],
        case["subject_code"],
        now,
        {
            **_case_data(case),
            "outcome": outcome,
            "upheld": upheld,
            "answered_at": now.isoformat(),
            "verification_record_id": verification_record_id,
        },
    )


def objection_escalated(case: dict[str, Any], *, due: date, now: datetime) -> CloudEvent:
    return _objection(
        "escalated",
        case["id"],
        case["subject_code"],
        now,
        {**_case_data(case), "due": due.isoformat(), "escalated_at": now.isoformat()},
    )


def _case_data(case: dict[str, Any]) -> dict[str, Any]:
    return {
        "objection_id": case["id"],
        "department": case["department"],
        "record_id": case["record_id"],
        "subject_code": case["subject_code"],
    }


def _objection(event: str, objection_id: str, subject: str, time: datetime, data: dict[str, Any]) -> CloudEvent:
    return outcome_event(
        service=SERVICE,
        kind=f"objection.{event}",
        subject=subject,
        event_id=f"publish:objection:{objection_id}:{event}",
        time=time,
        data=data,
    )


def repair_event(event: str, case: dict[str, Any], *, now: datetime, extra: dict[str, Any] | None = None) -> CloudEvent:
    extra = extra or {}
    step = extra.get("decision_record_id") or extra.get("missed")
    return outcome_event(
        service=SERVICE,
        kind=f"repair.{event}",
        subject=case["subject_code"],
        event_id=f"publish:repair:{case['id']}:{event}" + (f":{step}" if step else ""),
        time=now,
        data={
            "repair_id": case["id"],
            "department": case["department"],
            "record_id": case["record_id"],
            "subject_code": case["subject_code"],
            "state": case["state"],
            "filed_at": case["filed_at"].isoformat(),
            "accept_due": case["accept_due"].isoformat(),
            "decide_due": case["decide_due"].isoformat(),
            "due_provisional": case["due_provisional"],
            **extra,
        },
    )
