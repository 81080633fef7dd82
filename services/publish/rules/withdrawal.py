"""What the public sees of a revocation or correction (行政处罚法 Art. 48: withdraw, and state the reason). Pure.

A revoked record (or one a correction took off the portal) answers its public id with 已撤销 / 已更正, the
reason, its kind, document number and date — never the withdrawn content, nor the subject's name or code
(the law asks for the withdrawal and its reason, not for the subject to stay named next to it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REVOCATION = "record_revocation"


def public_amendment(amendment: Mapping[str, Any], department: str, *, withdrawn: bool) -> dict[str, Any]:
    """The amendment as the public sees it (the catalogue classes these fields ``public``)."""
    revoked = amendment["kind"] == REVOCATION
    return {
        "amendment_id": amendment["record_id"],
        "public_amendment_id": f"{department}.{amendment['record_id']}",
        "kind": amendment["kind"],
        "status": "已撤销" if revoked else "已更正",
        "withdrawn": withdrawn,
        "reason_kind": amendment.get("reason_kind"),
        "reason": amendment.get("reason"),
        "document_no": amendment.get("document_no"),
        "decision_date": amendment["decision_date"],
    }


def notice(content: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a withdrawn record's public id shows: that it was withdrawn and why, nothing of its content."""
    amendment = content.get("amendment")
    if not isinstance(amendment, dict) or not amendment.get("withdrawn"):
        return None
    shown = {key: amendment[key] for key in ("kind", "reason_kind", "reason", "document_no", "decision_date")}
    return {
        "record_id": content["record_id"],
        "department": content["department"],
        "department_name": content["department_name"],
        "record_type": content["record_type"],
        "record_type_title": content["record_type_title"],
        "decision_date": content["decision_date"],
        "status": amendment["status"],
        "withdrawn": True,
        "withdrawal": shown,
    }
