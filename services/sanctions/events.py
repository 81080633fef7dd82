"""Outcome events of the sanctions service, pure: what changed between the stored case and the derived
one, as CloudEvents for `outcomes.sanctions` (key = the subject's code).

Types (`cn.credit.sanction.<event>`): `case_opened`, `instruction` (one per implementing department),
`suspended`, `resumed`, `lifted`. Lifecycle events carry every implementing department (`departments`),
so each is told of each change (DOMAIN §6). Ids are deterministic — built from the case, the new state
and the date it took effect, or the instruction's content — so a replay emits the same ids; should a
case come back to a state on a date it already announced (a revoked removal), a suffix keeps the new
announcement distinct from the old one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.common.envelope import CloudEvent, dumps
from services.common.outcomes import outcome_event
from services.sanctions.rules import CaseState
from services.sanctions.rules.derive import CaseView, InstructionView, measure_item

SERVICE = "sanctions"
_EVENT_FOR_STATE = {CaseState.SUSPENDED: "suspended", CaseState.LIFTED: "lifted", CaseState.OPEN: "resumed"}


@dataclass(frozen=True, slots=True)
class StoredCase:
    """What was last announced about a case (the `cases` row and its instructions' content hashes)."""

    case_id: str
    state: str
    state_since: date
    instruction_hashes: dict[str, str]  # department -> content hash
    emitted: tuple[str, ...]
    code: str = ""
    departments: tuple[str, ...] = ()
    since: date | None = None
    """The case's trigger date."""


def instruction_content(view: CaseView, iv: InstructionView) -> dict[str, Any]:
    """What a department is told to do: measures, related persons to restrict, legal basis (响应)."""
    ins = iv.instruction
    names = {(p.id_number, p.role): p for p in view.case.trigger.related_persons}
    persons: dict[tuple[str, str], list[str]] = {}
    for pr in ins.persons:
        persons.setdefault((pr.id_number, pr.role), []).append(pr.measure.id)
    bases = {(m.legal_basis.document, m.legal_basis.provision) for m in ins.measures}
    return {
        "instruction_id": ins.instruction_id,
        "department": ins.department,
        "measures": [measure_item(m, view.case.trigger) for m in ins.measures],
        "related_persons": [
            {
                "id_number": number,
                "id_type": names[(number, role)].id_type,
                "name": names[(number, role)].name,
                "role": role,
                "measure_ids": ids,
            }
            for (number, role), ids in sorted(persons.items())
        ],
        "legal_basis": [{"document": d, "provision": p} for d, p in sorted(bases)],
    }


def content_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(dumps(content)).hexdigest()[:16]


def case_summary(view: CaseView) -> dict[str, Any]:
    t = view.case.trigger
    return {
        "case_id": view.case_id,
        "code": t.subject_code,
        "subject_kind": t.subject_kind,
        "subject_name": view.subject_name,
        "nature": view.nature,
        "trigger": t.kind,
        "trigger_department": t.department,
        "trigger_record_id": t.record_id,
        "case_since": t.since.isoformat(),
        "case_until": None if t.until is None else t.until.isoformat(),
        "state": str(view.state),
        "since": view.state_since.isoformat(),
        "reason": view.reason,
        "wrongful": t.revoked_on is not None,
        "restore_reputation": restore_reputation(view),
        "objection_ids": list(view.objection_ids),
        "departments": list(view.departments),
        "measures": [measure_item(m, t) for m in view.case.measures],
    }


def restore_reputation(view: CaseView) -> list[str]:
    """A wrongful sanction (its record revoked) obliges whoever acted on it to restore the subject's
    reputation (000 L113, 001 L380): the departments that reported 已执行 on this case."""
    if view.case.trigger.revoked_on is None:
        return []
    return [
        i.instruction.department for i in view.instructions if any(f["action_taken"] == "已执行" for f in i.feedback)
    ]


def changes(stored: StoredCase | None, view: CaseView, *, at: datetime) -> list[CloudEvent]:
    """The events announcing what is new about `view` compared with `stored` (none when nothing is)."""
    events: list[CloudEvent] = []
    summary = case_summary(view)
    if stored is None:
        events.append(_lifecycle("case_opened", f"sanctions:{view.case_id}:case_opened", summary, at))
    moved = stored is not None and (stored.state, stored.state_since) != (str(view.state), view.state_since)
    if moved or (stored is None and view.state is not CaseState.OPEN):
        kind = _EVENT_FOR_STATE[view.state]
        base = f"sanctions:{view.case_id}:{kind}:{view.state_since.isoformat()}"
        events.append(_lifecycle(kind, _unique(base, stored.emitted if stored else ()), summary, at))
    if view.state is not CaseState.LIFTED:
        known = stored.instruction_hashes if stored else {}
        for iv in view.instructions:
            content = instruction_content(view, iv)
            digest = content_hash(content)
            if known.get(iv.instruction.department) != digest:
                events.append(_instruction(view, content, digest, at))
    return events


def orphan_lifted(stored: StoredCase, *, on: date, reason: str, at: datetime) -> CloudEvent:
    """A stored case the measure list in force no longer supports: lifted, and its departments told."""
    base = f"sanctions:{stored.case_id}:lifted:{on.isoformat()}"
    summary = {
        "case_id": stored.case_id,
        "code": stored.code,
        "state": str(CaseState.LIFTED),
        "since": on.isoformat(),
        "reason": reason,
        "departments": list(stored.departments),
    }
    return _lifecycle("lifted", _unique(base, stored.emitted), summary, at)


def _unique(base: str, emitted: Sequence[str]) -> str:
    if base not in emitted:
        return base
    n = 2
    while f"{base}:{n}" in emitted:
        n += 1
    return f"{base}:{n}"


def _lifecycle(kind: str, event_id: str, summary: dict[str, Any], at: datetime) -> CloudEvent:
    return outcome_event(
        service=SERVICE,
        kind=f"sanction.{kind}",
        subject=summary["code"],
        event_id=event_id,
        time=at,
        data={"event": kind, **summary},
    )


def _instruction(view: CaseView, content: dict[str, Any], digest: str, at: datetime) -> CloudEvent:
    t = view.case.trigger
    data = {
        "event": "instruction",
        "case_id": view.case_id,
        "code": t.subject_code,
        "subject_kind": t.subject_kind,
        "subject_name": view.subject_name,
        "trigger": t.kind,
        "trigger_department": t.department,
        "trigger_record_id": t.record_id,
        "state": str(view.state),
        "case_since": t.since.isoformat(),
        "case_until": None if t.until is None else t.until.isoformat(),
        **content,
    }
    event_id = f"sanctions:{view.case_id}:instruction:{content['department']}:{digest}"
    return outcome_event(
        service=SERVICE, kind="sanction.instruction", subject=t.subject_code, event_id=event_id, time=at, data=data
    )
