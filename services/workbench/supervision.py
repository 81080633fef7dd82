"""The workbench's supervision pages (issue 22): 双随机 plans, patrol-due list and escalation proposals of the
signed-in staff member's department (the county office: every department), read and made through the
supervision service's API acting for that staff member (`client.Services`), so supervision's own scope and
access log apply. I/O only; templates autoescaped; every POST carries the session's CSRF token."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.workbench.pages import _ctx, checked_form, render, session

router = APIRouter(include_in_schema=False)
SERVICE = "supervision"
KINDS = {
    "patrol": "日常巡查",
    "revocation_recheck": "吊销后案后回查",
    "evaluation_inspections": "评价结果加密检查",
    "commitment_due": "承诺履行到期",
    "interview_rectification": "约谈整改核查",
}
STATES = {"done": "已录入结果", "pending": "待检查", "overdue": "已逾期"}


def _values(current: Any, **values: Any) -> dict[str, Any]:
    return {"staff": current.staff, "csrf": current.csrf, **values}


@router.get("/supervision/plans")
async def plans(request: Request) -> Response:
    current = await session(request)
    body = await _ctx(request).services.json(SERVICE, "/v1/supervision/plans", current.staff)
    return render(
        "supervision_plans.html",
        **_values(current, plans=body["plans"], can_plan=current.staff.department is not None, errors=[], form={}),
    )


@router.post("/supervision/plans")
async def plans_create(request: Request) -> Response:
    current = await session(request)
    form = await checked_form(request, current)
    fields = {k: str(form.get(k) or "").strip() for k in ("plan_name", "matter", "period_from", "period_to", "seed")}
    inspectors = [line.strip() for line in str(form.get("inspectors") or "").splitlines() if line.strip()]
    payload: dict[str, Any] = {k: v for k, v in fields.items() if v} | {"inspectors": inspectors}
    ctx = _ctx(request)
    response = await ctx.services.call(SERVICE, "POST", "/v1/supervision/plans", current.staff, json=payload)
    if response.status_code == 201:
        plan_id = response.json()["plan_id"]
        return RedirectResponse(f"/supervision/plans/{quote(plan_id)}", status_code=303)
    errors = _errors(response.json() if response.headers.get("content-type", "").startswith("application/") else {})
    body = await ctx.services.json(SERVICE, "/v1/supervision/plans", current.staff)
    return render(
        "supervision_plans.html",
        422,
        **_values(current, plans=body["plans"], can_plan=True, errors=errors or [response.text[:200]], form=fields),
    )


def _errors(problem: dict[str, Any]) -> list[str]:
    """A problem answer's errors as lines a clerk reads (FastAPI's own validation errors included)."""
    out = []
    for e in problem.get("errors") or problem.get("detail") or []:
        if isinstance(e, dict):
            where = e.get("pointer") or "/".join(str(p) for p in e.get("loc", []))
            out.append(f"{where}：{e.get('message') or e.get('msg')}")
    return out


@router.get("/supervision/plans/{plan_id}")
async def plan(request: Request, plan_id: str) -> Response:
    current = await session(request)
    ctx = _ctx(request)
    response = await ctx.services.call(SERVICE, "GET", f"/v1/supervision/plans/{quote(plan_id)}", current.staff)
    if response.status_code != 200:
        return render("message.html", 404, **_values(current, title="未找到", message=f"没有抽查计划 {plan_id}。"))
    return render("supervision_plan.html", **_values(current, plan=response.json(), states=STATES))


@router.get("/supervision/patrol-due")
async def patrol_due(request: Request) -> Response:
    current = await session(request)
    body = await _ctx(request).services.json(SERVICE, "/v1/supervision/patrol-due", current.staff)
    return render("supervision_patrol.html", **_values(current, items=body["items"], kinds=KINDS, today=body["as_of"]))


@router.get("/supervision/proposals")
async def proposals(request: Request) -> Response:
    current = await session(request)
    body = await _ctx(request).services.json(SERVICE, "/v1/supervision/proposals", current.staff)
    return render("supervision_proposals.html", **_values(current, proposals=body["proposals"], today=body["as_of"]))
