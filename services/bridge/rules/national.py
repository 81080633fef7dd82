"""The provincial wire format (docs/bridge-wire-format.md): which outcomes go to the province and how.

Pure. A 双公示 disclosure or a list change becomes one record in the national data-element format: the
record's own CF_/XK_ (and list) fields as-is, under a small header naming the action, the data type, the
reporting department's USCC and the county's record key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

ACTIONS: dict[str, str] = {
    "cn.credit.disclosure.published": "I",  # 新增
    "cn.credit.disclosure.corrected": "U",  # 更正
    "cn.credit.disclosure.withdrawn": "D",  # 撤销 / 修复后撤下
    "cn.credit.list.entered": "I",
    "cn.credit.list.exited": "D",
    "cn.credit.list.expired": "D",
}
"""Event type → GB/T 39443 operation code (I insert, U update, D delete)."""

FORMAT_VERSION = "cx-province/1"


@dataclass(frozen=True, slots=True)
class ProvinceRecord:
    event_id: str
    action: str
    record_type: str
    department: str
    record_id: str
    subject: str
    event_date: date
    must_reach_by_working_days: int | None
    """A withdrawal (or a repair's withdrawal) must reach the province within N working days."""
    payload: dict[str, Any]


# Record ids of entries imported from a national list (rules/inbound.py RECORD_ID_PREFIX).
NATIONAL_RECORD_PREFIX = "nat:"


def to_province(
    event_id: str,
    event_type: str,
    subject: str,
    event_date: date,
    data: dict[str, Any],
    *,
    uscc: dict[str, str],
    withdrawal_working_days: int,
) -> ProvinceRecord | None:
    """The province record of an outcome, or None when the outcome does not go to the province."""
    action = ACTIONS.get(event_type)
    department = data.get("department")
    if action is None or not isinstance(department, str):
        return None
    record_type = str(data.get("record_type", ""))
    record_id = str(data.get("record_id", ""))
    if record_id.startswith(NATIONAL_RECORD_PREFIX):
        return None  # imported from a national list: it came down from there, it does not go back up
    fields = data.get("content") if event_type.startswith("cn.credit.disclosure.") else data.get("data")
    payload = {
        "format": FORMAT_VERSION,
        "id": event_id,
        "action": action,
        "data_type": record_type,
        "department": department,
        "department_uscc": uscc.get(department, ""),
        "record_key": f"{department}.{record_id}",
        "subject_code": subject,
        "decision_date": data.get("decision_date"),
        "reason": data.get("reason") or (data.get("listing") or {}).get("end"),
        "fields": fields if isinstance(fields, dict) else {},
    }
    return ProvinceRecord(
        event_id=event_id,
        action=action,
        record_type=record_type,
        department=department,
        record_id=record_id,
        subject=subject,
        event_date=event_date,
        must_reach_by_working_days=withdrawal_working_days if action == "D" else None,
        payload=payload,
    )


REPAIR_FORMAT = "cx-repair/1"
REPAIR_ANSWERED = "cn.credit.repair.answered"


def repair_answer(
    event_id: str, subject: str, event_date: date, data: dict[str, Any], *, reference: str, uscc: dict[str, str]
) -> ProvinceRecord:
    """The county's answer (受理, 不予受理, 延长办理期限, 准予修复, 不予修复) on a repair application that
    信用中国 forwarded, as the record that goes back up (docs/bridge-wire-format.md §5): action `R`."""
    department = str(data.get("department", ""))
    repair_id = str(data.get("repair_id", ""))
    payload: dict[str, Any] = {
        "format": REPAIR_FORMAT,
        "id": event_id,
        "action": "R",
        "data_type": "credit_repair",
        "department": department,
        "department_uscc": uscc.get(department, ""),
        "record_key": f"{department}.{data.get('record_id', '')}",
        "subject_code": subject,
        "decision_date": event_date.isoformat(),
        "reference": reference,
        "repair_id": repair_id,
        "decision": data.get("decision"),
        "state": data.get("state"),
        "reason": data.get("explanation"),
        "fields": {},
    }
    return ProvinceRecord(
        event_id=event_id,
        action="R",
        record_type="credit_repair",
        department=department,
        record_id=repair_id,
        subject=subject,
        event_date=event_date,
        must_reach_by_working_days=None,
        payload=payload,
    )
