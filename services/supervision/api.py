"""Supervision HTTP endpoints (issue 22): 双随机 plans and their draws, patrol-due lists, overdue per
department, escalation proposals (待办), and a subject's evaluation consequences. I/O only.

Deny by default: a department plans and reads its own; county and auditor read all. Every read of these
non-public lists is access-logged.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.common.access_log import log_access
from services.common.auth import Principal, Role
from services.common.http import ApiError, ApiProblem, department_scope, forbidden, require
from services.common.outcomes import emit, outcome_event
from services.supervision.handlers import SupervisionContext
from services.supervision.rules.codes import detect
from services.supervision.rules.model import LEVELS
from services.supervision.rules.sampling import draw, split_published, stratify
from services.supervision.store import PlanRow

router = APIRouter(tags=["supervision"])
Reader = Annotated[Principal, Depends(require(Role.DEPARTMENT, Role.COUNTY, Role.AUDITOR))]
Planner = Annotated[Principal, Depends(require(Role.DEPARTMENT))]
SERVICE = "supervision"
REGISTRATION_AUTHORITY = "AMR"  # the only department reporting subject_registration (catalogue)


class PlanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plan_name: str = Field(min_length=1, max_length=200)
    matter: str = Field(min_length=1, max_length=200, description="抽查事项")
    rule_set: str = Field(default="chongqing-amr", description="the grading rule set whose strata are drawn")
    period_from: date
    period_to: date
    grades: list[str] = Field(default_factory=list, description="population filter: grades (empty: all)")
    levels: list[str] = Field(default_factory=list, description="population filter: levels (empty: all)")
    subject_kind: str | None = None
    seed: str | None = Field(default=None, min_length=8, max_length=128, description="default: a fresh random seed")
    inspectors: list[str] = Field(default_factory=list, max_length=500, description="执法检查人员名录")

    @model_validator(mode="after")
    def _period(self) -> PlanRequest:
        if self.period_to < self.period_from:
            raise ValueError("period_to is before period_from (抽查期限结束日早于开始日)")
        unknown = set(self.levels) - set(LEVELS)
        if unknown:
            raise ValueError(f"unknown levels {sorted(unknown)}")
        return self


def ctx_of(request: Request) -> SupervisionContext:
    ctx: SupervisionContext = request.app.state.supervision
    return ctx


async def _log(ctx: SupervisionContext, who: Principal, what: str, subject: str) -> None:
    await log_access(
        ctx.engine,
        schema=ctx.store.s,
        topic=ctx.audit_topic,
        service=SERVICE,
        principal=who,
        what=what,
        subject=subject,
        purpose=None,
        at=ctx.clock.now(),
    )


async def create_plan(ctx: SupervisionContext, who: Principal, body: PlanRequest) -> dict[str, Any]:
    """Draw now from the graded population and publish the plan (outcomes.supervision and the audit topic)."""
    sup = ctx.rules.rule_sets.get(body.rule_set)
    if sup is None:
        raise ApiProblem(422, [ApiError("/rule_set", "unknown_rule_set", f"规则集 {body.rule_set!r} 没有抽查配置")])
    if who.department != sup.department:
        raise forbidden(
            f"{body.rule_set} 的主体由 {sup.department} 抽查 (only {sup.department} plans these)", "/rule_set"
        )
    seed = body.seed or secrets.token_hex(16)
    plan_id = f"PLAN-{who.department}-{uuid.uuid4().hex[:12].upper()}"
    now = ctx.clock.now()
    async with ctx.engine.begin() as conn:
        by_band = ctx.composite is not None and body.rule_set == ctx.composite.id
        members = await ctx.store.population(
            conn,
            body.rule_set,
            grades=body.grades,
            levels=body.levels,
            subject_kind=body.subject_kind,
            composite_on=ctx.today() if by_band else None,
        )
        population = stratify(members)
        result = draw(population, sup.ratio, seed, body.inspectors)
        published = {
            "event": "plan_drawn",
            "plan_id": plan_id,
            "task_no": plan_id,
            "department": who.department,
            "plan_name": body.plan_name,
            "matter": body.matter,
            "rule_set": body.rule_set,
            "period_from": body.period_from.isoformat(),
            "period_to": body.period_to.isoformat(),
            "filter": {"grades": body.grades, "levels": body.levels, "subject_kind": body.subject_kind},
            "seed": seed,
            "algorithm": "sha256-rank-v1",
            "population_size": result.population_size,
            "population": result.population,
            "ratios": {s: sup.ratio(s) for s in result.population},
            "sizes": result.sizes,
            "inspector_roster": sorted(set(body.inspectors)),
            "drawn": [{"code": d.code, "stratum": d.stratum, "inspectors": list(d.inspectors)} for d in result.drawn],
            "drawn_count": len(result.drawn),
            "drawn_at": now.isoformat(),
        }
        row = PlanRow(
            plan_id,
            who.department or "",
            body.plan_name,
            body.matter,
            body.rule_set,
            body.period_from,
            body.period_to,
            seed,
            result.population_size,
            len(result.drawn),
            published,
            now,
        )
        await ctx.store.add_plan(conn, row, result)
        # A large plan (a county's whole population) in parts, so no message nears Kafka's size limit.
        parts = split_published(published, ctx.plan_part_bytes)
        events = [
            outcome_event(
                service=SERVICE,
                kind="supervision.plan_drawn",
                subject=plan_id,
                event_id=f"supervision:{plan_id}:plan_drawn" + (f":{p['part']}" if len(parts) > 1 else ""),
                time=now,
                data=p,
            )
            for p in parts
        ]
        await emit(conn, schema=ctx.store.s, topic=ctx.outcome_topic, events=events)
        await emit(conn, schema=ctx.store.s, topic=ctx.audit_topic, events=events)
    return {**published, "parts": len(parts)}


@router.post("/v1/supervision/plans", status_code=201, summary="Create a 双随机 plan and draw its subjects")
async def post_plan(request: Request, who: Planner, body: PlanRequest) -> dict[str, Any]:
    return await create_plan(ctx_of(request), who, body)


def _scope(who: Principal, department: str | None) -> str | None:
    return department_scope(who, department, "部门只能查看本部门的监管事项 (a department reads only its own)")


async def plan_list(ctx: SupervisionContext, department: str | None) -> list[dict[str, Any]]:
    async with ctx.engine.connect() as conn:
        rows = await ctx.store.plans(conn, department)
    return [
        {
            "plan_id": p.plan_id,
            "department": p.department,
            "plan_name": p.plan_name,
            "matter": p.matter,
            "period_from": p.period_from.isoformat(),
            "period_to": p.period_to.isoformat(),
            "seed": p.seed,
            "population_size": p.population_size,
            "drawn_count": p.drawn_count,
        }
        for p in rows
    ]


@router.get("/v1/supervision/plans", summary="Plans (a department: its own)")
async def get_plans(request: Request, who: Reader, department: str | None = None) -> dict[str, Any]:
    ctx = ctx_of(request)
    scope = _scope(who, department)
    await _log(ctx, who, "supervision.plans", scope or "*")
    return {"department": scope, "plans": await plan_list(ctx, scope)}


async def plan_detail(ctx: SupervisionContext, plan_id: str, department: str | None) -> dict[str, Any] | None:
    today = ctx.today()
    async with ctx.engine.connect() as conn:
        rows = await ctx.store.plans(conn, department, plan_id)
        if not rows:
            return None
        plan = rows[0]
        progress = await ctx.store.plan_progress(conn, plan_id)
    sup = ctx.rules.rule_sets[plan.rule_set]
    subjects = []
    for p in progress:
        done = p["record_id"] is not None
        late = None
        if done and p["inspected_on"]:
            entered_by = ctx.calendar_add(date.fromisoformat(p["inspected_on"]), sup.result_entry_working_days)
            late = p["decision_date"] > entered_by if entered_by else None
        subjects.append(
            {
                "code": p["code"],
                "subject_name": p["subject_name"],
                "stratum": p["stratum"],
                "inspectors": p["inspectors"],
                "state": "done" if done else ("overdue" if today > plan.period_to else "pending"),
                "result": p["result"],
                "result_record_id": p["record_id"],
                "inspected_on": p["inspected_on"],
                "result_entered_late": late,
            }
        )
    return {
        **plan.published,
        "subjects": subjects,
        "overdue": sum(1 for s in subjects if s["state"] == "overdue"),
        "done": sum(1 for s in subjects if s["state"] == "done"),
    }


@router.get("/v1/supervision/plans/{plan_id}", summary="A plan, its published draw and each drawn subject's state")
async def get_plan(request: Request, who: Reader, plan_id: str) -> dict[str, Any]:
    ctx = ctx_of(request)
    detail = await plan_detail(ctx, plan_id, _scope(who, None))
    if detail is None:
        raise ApiProblem(404, [ApiError("/path/plan_id", "not_found", f"没有抽查计划 {plan_id}")])
    await _log(ctx, who, "supervision.plan", plan_id)
    return detail


async def patrol_due(ctx: SupervisionContext, department: str | None) -> list[dict[str, Any]]:
    today = ctx.today()
    async with ctx.engine.connect() as conn:
        rows = await ctx.store.open_obligations(conn, department)
    return [
        {
            "code": r["code"],
            "subject_name": r["subject_name"],
            "department": r["department"],
            "kind": r["kind"],
            "level": r["level"],
            "since": r["since"].isoformat(),
            "due": r["due"].isoformat(),
            "basis": r["basis"],
            "record_ids": r["record_ids"],
            "overdue": today > r["due"],
        }
        for r in rows
    ]


@router.get("/v1/supervision/patrol-due", summary="Open patrols, re-checks and due commitments (a department: its own)")
async def get_patrol_due(request: Request, who: Reader, department: str | None = None) -> dict[str, Any]:
    ctx = ctx_of(request)
    scope = _scope(who, department)
    await _log(ctx, who, "supervision.patrol_due", scope or "*")
    items = await patrol_due(ctx, scope)
    return {"department": scope, "as_of": ctx.today().isoformat(), "items": items}


@router.get("/v1/supervision/overdue", summary="Overdue patrols and commitments per department (county)")
async def get_overdue(request: Request, who: Reader) -> dict[str, Any]:
    ctx = ctx_of(request)
    scope = _scope(who, None)
    await _log(ctx, who, "supervision.overdue", scope or "*")
    counts: dict[str, dict[str, int]] = {}
    for item in await patrol_due(ctx, scope):
        if item["overdue"]:
            per = counts.setdefault(item["department"], {})
            per[item["kind"]] = per.get(item["kind"], 0) + 1
    return {"as_of": ctx.today().isoformat(), "departments": counts}


async def proposal_list(ctx: SupervisionContext, department: str | None) -> list[dict[str, Any]]:
    async with ctx.engine.connect() as conn:
        rows = await ctx.store.proposals(conn, department, ctx.today())
    return [{**r, "candidate_from": r["candidate_from"].isoformat()} for r in rows]


@router.get("/v1/supervision/proposals", summary="Escalation candidates in the deciding department's 待办")
async def get_proposals(request: Request, who: Reader, department: str | None = None) -> dict[str, Any]:
    """Proposals, never decisions (001 L654): the department decides and reports its own record."""
    ctx = ctx_of(request)
    scope = _scope(who, department)
    await _log(ctx, who, "supervision.proposals", scope or "*")
    return {"department": scope, "as_of": ctx.today().isoformat(), "proposals": await proposal_list(ctx, scope)}


@router.get("/v1/subjects/{code}/evaluations", summary="Rewards and restrictions of departments' evaluations in force")
async def get_evaluations(
    request: Request,
    who: Reader,
    code: str,
    on: Annotated[date | None, Query(description="YYYY-MM-DD, default today")] = None,
) -> dict[str, Any]:
    ctx = ctx_of(request)
    day = on or ctx.today()
    await _log(ctx, who, "supervision.evaluations", code)
    async with ctx.engine.connect() as conn:
        rows = await ctx.store.consequences_of(conn, code, day)
    items = [
        {
            **r,
            "valid_from": r["valid_from"].isoformat(),
            "valid_until": r["valid_until"].isoformat() if r["valid_until"] else None,
        }
        for r in rows
    ]
    return {"code": code, "on": day.isoformat(), "consequences": items}


@router.get("/v1/subjects/{code}/composite", summary="The county composite evaluation (公共信用综合评价) on a day")
async def get_composite(
    request: Request,
    who: Reader,
    code: str,
    on: Annotated[date | None, Query(description="YYYY-MM-DD, default today")] = None,
) -> dict[str, Any]:
    """The score, band and the records that made it, on the day (003 L59; 001 L616)."""
    ctx = ctx_of(request)
    if ctx.composite is None:
        raise ApiProblem(404, [ApiError("/", "not_found", "本县未配置公共信用综合评价")])
    day = on or ctx.today()
    await _log(ctx, who, "supervision.composite", code)
    async with ctx.engine.connect() as conn:
        rows = await ctx.store.composite_of(conn, code)
    now = next(
        (r for r in rows if r["valid_from"] <= day and (r["valid_until"] is None or day <= r["valid_until"])), None
    )
    return {
        "code": code,
        "on": day.isoformat(),
        "rule_set": ctx.composite.id,
        "version": ctx.composite.version,
        "score": now["score"] if now else None,
        "band": now["band"] if now else None,
        "valid_from": now["valid_from"].isoformat() if now else None,
        "valid_until": now["valid_until"].isoformat() if now and now["valid_until"] else None,
        "items": now["items"] if now else [],
    }


@router.get("/v1/supervision/code-conflicts", summary="重错码 warnings for the registration authority (003 L47)")
async def get_code_conflicts(request: Request, who: Reader) -> dict[str, Any]:
    """One code with names its registration never gave it; one registered name with several codes. For
    the registration authority (AMR), the county and auditors; other departments are refused."""
    ctx = ctx_of(request)
    if who.role is Role.DEPARTMENT and who.department != REGISTRATION_AUTHORITY:
        raise forbidden(f"重错码提示仅供登记机关 {REGISTRATION_AUTHORITY} 核实 (registration authority only)", "/")
    await _log(ctx, who, "supervision.code_conflicts", "*")
    async with ctx.engine.connect() as conn:
        registered, reported = await ctx.store.names_and_codes(conn)
    warnings = [
        {"kind": w.kind, "key": w.key, "values": list(w.values), "record_ids": list(w.record_ids), "message": w.message}
        for w in detect(registered, reported)
    ]
    return {"as_of": ctx.today().isoformat(), "warnings": warnings}


@router.get("/v1/supervision/rules", summary="The supervision data in force (ratios, frequencies, consequences)")
async def get_rules(request: Request) -> dict[str, Any]:
    """Public: the measure list and how subjects are sampled are published (001 L621, 003 L81)."""
    return ctx_of(request).rules.model_dump(mode="json")
