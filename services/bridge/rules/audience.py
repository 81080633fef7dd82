"""Who may read which outcome event (role filter of the unified feed and of webhook subscriptions).

Pure: an event is described by its type and the departments it names; a caller by role and department.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

FAMILIES = ("disclosure", "list", "interview", "grade", "sanction", "objection", "repair")
"""The outcome families of `cn.credit.<family>.<event>` the feed carries (audit.access never)."""

DEPARTMENT_WEBHOOK_TYPES = frozenset(
    {
        "cn.credit.sanction.instruction",
        "cn.credit.objection.filed",
        "cn.credit.objection.answered",
        "cn.credit.objection.escalated",
    }
)
"""A department subscribes to its own instructions and objections only (issue 20)."""


def family(event_type: str) -> str:
    """`cn.credit.disclosure.published` → `disclosure`."""
    parts = event_type.split(".")
    return parts[2] if len(parts) > 2 and parts[0] == "cn" and parts[1] == "credit" else ""


def departments_named(data: dict[str, Any]) -> list[str]:
    """The departments an outcome concerns: its `department` (disclosures, objections, repairs,
    instructions, list changes) and a case's implementing `departments`; none for a grade."""
    named: list[str] = []
    one = data.get("department")
    if isinstance(one, str) and one:
        named.append(one)
    many = data.get("departments")
    if isinstance(many, list):
        named += [d for d in many if isinstance(d, str) and d and d not in named]
    return named


def may_read(role: str, department: str | None, event_departments: Sequence[str]) -> bool:
    """County and auditor read every outcome; a department those that name it (never a grade)."""
    if role in ("county", "auditor"):
        return True
    return role == "department" and department is not None and department in event_departments


def may_subscribe(role: str, types: Iterable[str]) -> str | None:
    """None when the role may subscribe to all of `types`, else the first type it may not have."""
    for t in types:
        if role == "county" and (t in FAMILIES or family(t) in FAMILIES):
            continue
        if role == "department" and t in DEPARTMENT_WEBHOOK_TYPES:
            continue
        return t
    return None


def wants(
    sub_role: str, sub_department: str | None, sub_types: Sequence[str], event_type: str, departments: Sequence[str]
) -> bool:
    """Does a subscription receive this event: a type it asked for (exact, or the family name alone)
    and one its role may read."""
    if event_type not in sub_types and family(event_type) not in sub_types:
        return False
    return may_read(sub_role, sub_department, departments)


def endpoint_problem(url: str, *, allow_http: bool) -> str | None:
    """Why a subscriber endpoint cannot be registered (a Chinese reason), or None: https:// only (plain
    http only where the operator allowed it, for development), and a host must be named."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_http and parts.scheme == "http"):
        return "推送地址须为 https:// (the endpoint must be https://)"
    if not parts.hostname:
        return "推送地址无主机名 (the URL names no host)"
    return None
