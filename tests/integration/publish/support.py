"""Helpers of the publish tests: report through ingest, read through publish, build amendments."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from services.publish.context import PublishContext
from tests.helpers import eventually


def context(client: httpx.AsyncClient) -> PublishContext:
    ctx: PublishContext = client.app.state.publish  # type: ignore[attr-defined]
    return ctx


def bearer(tokens: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['TOKEN_' + who]}"}


async def report(ingest: httpx.AsyncClient, tokens: dict[str, str], record: dict[str, Any], who: str = "AMR") -> None:
    response = await ingest.post("/v1/records", json=record, headers=bearer(tokens, who))
    assert response.status_code == 202, response.text


def public_id(record: dict[str, Any], department: str = "AMR") -> str:
    return f"{department}.{record['id']}"


async def wait_shown(publish: httpx.AsyncClient, record_id: str, what: str = "the record on the portal") -> Any:
    """Wait until the record is published; its public JSON."""
    return await eventually(lambda: shown(publish, record_id), what=f"{what} ({record_id})")


async def shown(publish: httpx.AsyncClient, record_id: str) -> dict[str, Any] | None:
    """The published record, or None while it is not (yet, or no longer) published (404; 410 once revoked)."""
    response = await publish.get(f"/v1/disclosures/{record_id}")
    if response.status_code in (404, 410):
        return None
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def amendment(target: dict[str, Any], kind: str, decided: str, **data: Any) -> dict[str, Any]:
    """A record_revocation or record_correction of ``target`` by the same department."""
    department = target["id"].split("-", 1)[0]
    return {
        "id": f"{department}-T-{uuid.uuid4().hex[:12]}",
        "type": kind,
        "version": 1,
        "subject": target["subject"],
        "decision_date": decided,
        "data": {"target_record_id": target["id"], "decision_date": decided, **data},
    }


def verification(target: dict[str, Any], objection_id: str, outcome: str, decided: str) -> dict[str, Any]:
    """The provider's answer (异议核实结果) to an objection about ``target``."""
    department = target["id"].split("-", 1)[0]
    return {
        "id": f"{department}-T-{uuid.uuid4().hex[:12]}",
        "type": "objection_verification",
        "version": 1,
        "subject": target["subject"],
        "decision_date": decided,
        "data": {
            "objection_id": objection_id,
            "target_record_id": target["id"],
            "outcome": outcome,
            "explanation": "经复核处罚决定书和现场检查笔录，核实结论如下。",
            "decision_date": decided,
        },
    }


def repair_decision(
    target: dict[str, Any], repair_id: str, decision: str, decided: str = "2026-11-20"
) -> dict[str, Any]:
    """The deciding department's answer (信用修复决定: 受理 / 不予受理 / 延长办理期限 / 准予修复 / 不予修复)."""
    department = target["id"].split("-", 1)[0]
    return {
        "id": f"{department}-T-{uuid.uuid4().hex[:12]}",
        "type": "repair_decision",
        "version": 1,
        "subject": target["subject"],
        "decision_date": decided,
        "data": {
            "repair_id": repair_id,
            "target_record_id": target["id"],
            "decision": decision,
            "explanation": "经审核申请材料和履行凭证，作出如下决定。",
            "decision_date": decided,
        },
    }
