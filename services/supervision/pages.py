"""The department's supervision pages (Chinese, server-rendered, no script): plans with their draws,
patrol-due lists and escalation proposals. A clerk signs in once with the department's token (kept in an
HttpOnly cookie); the same access rules and access log as the JSON API apply."""

from __future__ import annotations

from datetime import date
from typing import Any

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import DictLoader, Environment, select_autoescape
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

_BASE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}{% endblock %} - 信用监管工作台</title>
<style>
body{font-family:"Noto Sans CJK SC",sans-serif;margin:0;color:#1b1b1b;background:#f6f7f9}
header{background:#8c1c13;color:#fff;padding:.6rem 1rem}header a{color:#fff;margin-right:1rem}
main{padding:1rem;max-width:72rem;margin:auto}table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #ccd;padding:.35rem .5rem;text-align:left;font-size:.95rem}th{background:#eef}
.overdue{color:#a00;font-weight:bold}.error{color:#a00}label{display:block;margin:.4rem 0}
</style></head><body>
<header><nav aria-label="监管导航"><strong>信用监管工作台</strong>
<a href="/supervision/plans">双随机抽查计划</a><a href="/supervision/patrol-due">巡查待办</a>
<a href="/supervision/proposals">惩戒建议待办</a>{% if who %}<span>（{{ who }}）</span>{% endif %}</nav></header>
<main id="main">{% block main %}{% endblock %}</main></body></html>"""

_PAGES = {
    "base.html": _BASE,
    "login.html": """{% extends "base.html" %}{% block title %}登录{% endblock %}{% block main %}
<h1>部门登录</h1>{% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
<form method="post" action="/supervision/login"><label>访问令牌 <input name="token" type="password" required></label>
<input type="hidden" name="next" value="{{ next }}"><button type="submit">登录</button></form>{% endblock %}""",
    "plans.html": """{% extends "base.html" %}{% block title %}双随机抽查计划{% endblock %}{% block main %}
<h1>双随机抽查计划</h1>
{% if errors %}<ul class="error" role="alert">{% for e in errors %}<li>{{ e }}</li>{% endfor %}</ul>{% endif %}
<table><caption>本部门抽查计划</caption><thead><tr><th>计划</th><th>抽查事项</th><th>期限</th><th>主体总数</th><th>抽取数</th><th>随机种子</th></tr></thead><tbody>
{% for p in plans %}<tr><td><a href="/supervision/plans/{{ p.plan_id }}">{{ p.plan_name }}</a></td><td>{{ p.matter }}</td>
<td>{{ p.period_from }} 至 {{ p.period_to }}</td><td>{{ p.population_size }}</td><td>{{ p.drawn_count }}</td><td><code>{{ p.seed }}</code></td></tr>
{% else %}<tr><td colspan="6">尚无抽查计划</td></tr>{% endfor %}</tbody></table>
{% if can_plan %}<h2>新建抽查计划</h2><form method="post" action="/supervision/plans">
<label>计划名称 <input name="plan_name" required maxlength="200"></label>
<label>抽查事项 <input name="matter" required maxlength="200"></label>
<label>开始日期 <input name="period_from" type="date" required></label>
<label>结束日期 <input name="period_to" type="date" required></label>
<label>执法检查人员（每行一人） <textarea name="inspectors" rows="4"></textarea></label>
<label>随机种子（可不填，由平台生成并公开） <input name="seed" maxlength="128"></label>
<button type="submit">抽取并公开</button></form>{% endif %}{% endblock %}""",
    "plan.html": """{% extends "base.html" %}{% block title %}{{ plan.plan_name }}{% endblock %}{% block main %}
<h1>{{ plan.plan_name }}</h1>
<p>抽查事项：{{ plan.matter }}；期限：{{ plan.period_from }} 至 {{ plan.period_to }}；任务编号：<code>{{ plan.task_no }}</code></p>
<p>随机种子：<code>{{ plan.seed }}</code>；主体总数 {{ plan.population_size }}；已录入结果 {{ plan.done }}；逾期 {{ plan.overdue }}</p>
<table><caption>各层抽取比例</caption><thead><tr><th>信用等级/监管等级</th><th>主体数</th><th>比例</th><th>抽取数</th></tr></thead><tbody>
{% for s, codes in plan.population.items() %}<tr><td>{{ s }}</td><td>{{ codes|length }}</td><td>{{ plan.ratios[s] }}</td><td>{{ plan.sizes[s] }}</td></tr>{% endfor %}</tbody></table>
<table><caption>抽中主体</caption><thead><tr><th>统一社会信用代码</th><th>名称</th><th>分层</th><th>检查人员</th><th>状态</th><th>结果</th></tr></thead><tbody>
{% for s in plan.subjects %}<tr><td>{{ s.code }}</td><td>{{ s.subject_name or "" }}</td><td>{{ s.stratum }}</td><td>{{ s.inspectors|join("、") }}</td>
<td class="{{ s.state }}">{{ states[s.state] }}</td><td>{{ s.result or "" }}</td></tr>{% endfor %}</tbody></table>{% endblock %}""",
    "patrol.html": """{% extends "base.html" %}{% block title %}巡查待办{% endblock %}{% block main %}
<h1>巡查待办</h1><p>截至 {{ today }}</p>
<table><caption>待巡查、待回查和到期承诺</caption><thead><tr><th>统一社会信用代码</th><th>名称</th><th>事项</th><th>监管等级</th><th>起算日</th><th>期限</th><th>依据</th></tr></thead><tbody>
{% for i in items %}<tr><td>{{ i.code }}</td><td>{{ i.subject_name or "" }}</td><td>{{ kinds[i.kind] }}</td><td>{{ i.level or "" }}</td><td>{{ i.since }}</td>
<td{% if i.overdue %} class="overdue"{% endif %}>{{ i.due }}{% if i.overdue %}（已逾期）{% endif %}</td><td>{{ i.basis }}</td></tr>
{% else %}<tr><td colspan="7">没有待办</td></tr>{% endfor %}</tbody></table>{% endblock %}""",
    "proposals.html": """{% extends "base.html" %}{% block title %}惩戒建议待办{% endblock %}{% block main %}
<h1>惩戒建议待办</h1><p>以下为平台依规则提出的建议，是否认定由本部门依法决定（平台不作认定）。</p>
<table><caption>待决定的建议</caption><thead><tr><th>主体</th><th>建议</th><th>起始日</th><th>证据记录</th><th>说明</th></tr></thead><tbody>
{% for p in proposals %}<tr><td>{{ p.subject_name or "" }} {{ p.code }}</td><td>{{ p.title }}</td><td>{{ p.candidate_from }}</td><td>{{ p.evidence|join("、") }}</td>
<td>{% for k, v in p.details.items() %}{{ k }}：{{ v }}；{% endfor %}</td></tr>
{% else %}<tr><td colspan="5">没有待决定的建议</td></tr>{% endfor %}</tbody></table>{% endblock %}""",
}
_ENV = Environment(loader=DictLoader(_PAGES), autoescape=select_autoescape(default=True))


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
            plan_name=plan_name, matter=matter, period_from=date.fromisoformat(period_from),
            period_to=date.fromisoformat(period_to), seed=seed.strip() or None,
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
