"""The department's supervision pages (Chinese, server-rendered, no script): plans with their draws,
patrol-due lists and escalation proposals. A clerk signs in once with the department's token (kept in an
HttpOnly cookie); the same access rules and access log as the JSON API apply."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError

from services.common.auth import Principal, Role
from services.common.http import ApiProblem
from services.supervision import api

router = APIRouter(include_in_schema=False)
COOKIE = "supervision_token"
KINDS = {
    "patrol": "日常巡查",
    "revocation_recheck": "吊销后案后回查",
    "evaluation_inspections": "评价结果加密检查",
    "commitment_due": "承诺履行到期",
    "interview_rectification": "约谈整改核查",
}
STATES = {"done": "已录入结果", "pending": "待检查", "overdue": "已逾期"}

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")), autoescape=select_autoescape(default=True)
)


def _html(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(_ENV.get_template(name).render(**values), status_code=status)


async def _who(request: Request) -> Principal | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    principal: Principal | None = await request.app.state.authenticator.authenticate(token)
    return principal


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form (the pages' only kind), read without python-multipart; first value of each field."""
    raw = await request.body()
    fields = parse_qs(raw.decode("utf-8", errors="replace"), max_num_fields=20, keep_blank_values=True)
    return {key: values[0] for key, values in fields.items()}


def _login(path: str) -> Response:
    return RedirectResponse(f"/supervision/login?next={path}", status_code=303)


@router.get("/supervision/login")
async def login_form(next: str = "/supervision/plans") -> HTMLResponse:
    return _html("login.html", next=next if next.startswith("/supervision/") else "/supervision/plans", who=None)


@router.post("/supervision/login")
async def login(request: Request) -> Response:
    form = await _form(request)
    token, next = form.get("token", ""), form.get("next", "/supervision/plans")
    principal = await request.app.state.authenticator.authenticate(token.strip())
    if principal is None:
        return _html("login.html", 401, error="令牌无效或已吊销，请向管理员申请。", next=next, who=None)
    target = next if next.startswith("/supervision/") else "/supervision/plans"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", path="/supervision")
    return response


def _scope(who: Principal) -> str | None:
    return who.department if who.role is Role.DEPARTMENT else None


@router.get("/supervision/plans")
async def plans_page(request: Request) -> Response:
    who = await _who(request)
    if who is None:
        return _login("/supervision/plans")
    ctx = api.ctx_of(request)
    await api._log(ctx, who, "supervision.plans", _scope(who) or "*")
    plans = await api.plan_list(ctx, _scope(who))
    return _html("plans.html", plans=plans, who=who.label, can_plan=who.role is Role.DEPARTMENT, errors=[])


@router.post("/supervision/plans")
async def plans_create(request: Request) -> Response:
    form = await _form(request)
    plan_name, matter = form.get("plan_name", ""), form.get("matter", "")
    period_from, period_to = form.get("period_from", ""), form.get("period_to", "")
    inspectors, seed = form.get("inspectors", ""), form.get("seed", "")
    who = await _who(request)
    if who is None or who.role is not Role.DEPARTMENT:
        return _login("/supervision/plans")
    ctx = api.ctx_of(request)
    try:
        body = api.PlanRequest(
            plan_name=plan_name,
            matter=matter,
            period_from=date.fromisoformat(period_from),
            period_to=date.fromisoformat(period_to),
            seed=seed.strip() or None,
            inspectors=[line.strip() for line in inspectors.splitlines() if line.strip()],
        )
        plan = await api.create_plan(ctx, who, body)
    except (ValueError, ValidationError, ApiProblem) as exc:
        message = "; ".join(e.message for e in exc.errors) if isinstance(exc, ApiProblem) else str(exc)
        plans = await api.plan_list(ctx, _scope(who))
        return _html("plans.html", 422, plans=plans, who=who.label, can_plan=True, errors=[f"无法创建计划：{message}"])
    return RedirectResponse(f"/supervision/plans/{plan['plan_id']}", status_code=303)


@router.get("/supervision/plans/{plan_id}")
async def plan_page(request: Request, plan_id: str) -> Response:
    who = await _who(request)
    if who is None:
        return _login(f"/supervision/plans/{plan_id}")
    ctx = api.ctx_of(request)
    plan = await api.plan_detail(ctx, plan_id, _scope(who))
    if plan is None:
        return _html("plans.html", 404, plans=[], who=who.label, can_plan=False, errors=[f"没有抽查计划 {plan_id}"])
    await api._log(ctx, who, "supervision.plan", plan_id)
    return _html("plan.html", plan=plan, states=STATES, who=who.label)


@router.get("/supervision/patrol-due")
async def patrol_page(request: Request) -> Response:
    who = await _who(request)
    if who is None:
        return _login("/supervision/patrol-due")
    ctx = api.ctx_of(request)
    await api._log(ctx, who, "supervision.patrol_due", _scope(who) or "*")
    items = await api.patrol_due(ctx, _scope(who))
    return _html("patrol.html", items=items, kinds=KINDS, today=ctx.today().isoformat(), who=who.label)


@router.get("/supervision/proposals")
async def proposals_page(request: Request) -> Response:
    who = await _who(request)
    if who is None:
        return _login("/supervision/proposals")
    ctx = api.ctx_of(request)
    await api._log(ctx, who, "supervision.proposals", _scope(who) or "*")
    proposals = await api.proposal_list(ctx, _scope(who))
    return _html("proposals.html", proposals=proposals, who=who.label)
