"""Sanctions HTTP endpoints (API.md "Sanctions"): restriction checks (应查必查) and cases. I/O only.

Department, county and auditor tokens. Every read is logged through the access log (who, what, about
whom, why, answer); restriction checks are also kept in `sanctions.checks` for the county.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from services.common.access_log import log_access
from services.common.auth import Principal, Role
from services.common.http import ApiError, ApiProblem, FastJSONResponse, department_scope, require
from services.common.records import subject_records
from services.common.scorecard import month_of, rate
from services.sanctions.handlers import SanctionsContext, subject_cases
from services.sanctions.rules import Case, CaseState, restriction_answer
from services.sanctions.rules.derive import CaseView, clean_record_case, evaluation_cases
from services.sanctions.rules.measures import Measure
from services.sanctions.store import poll as poll_store

router = APIRouter(tags=["sanctions"])
Caller = Annotated[Principal, Depends(require(Role.DEPARTMENT, Role.COUNTY, Role.AUDITOR))]
Code = Annotated[str, Path(min_length=1, max_length=64, description="统一社会信用代码 or 公民身份号码")]
Purpose = Annotated[str | None, Query(max_length=500, description="why you ask (kept in the access log)")]
State = Literal["open", "suspended", "lifted"]


def _ctx(request: Request) -> SanctionsContext:
    ctx: SanctionsContext = request.app.state.sanctions
    return ctx


async def _log(
    ctx: SanctionsContext, principal: Principal, *, what: str, subject: str, purpose: str | None, answer: str
) -> None:
    await log_access(
        ctx.engine,
        schema=ctx.store.s,
        topic=ctx.audit_topic,
        service=ctx.service,
        principal=principal,
        what=what,
        subject=subject,
        purpose=purpose,
        at=ctx.clock.now(),
        answer=answer,
    )


@router.get("/v1/subjects/{code}/restrictions", summary="May this subject be granted <matter> on <on>? (应查必查)")
async def restrictions(
    request: Request,
    principal: Caller,
    code: Code,
    purpose: Purpose = None,
    matter: Annotated[str | None, Query(description="the decision about to be taken; see the measure list")] = None,
    on: Annotated[date | None, Query(description="YYYY-MM-DD, default today (Asia/Shanghai)")] = None,
) -> dict[str, Any]:
    """Active measures with their legal basis, `restricted` when one prohibits or restricts, `suspended`
    when a case is suspended while an objection is verified, and rewards. A natural person's ID number
    also finds the measures reaching them as 法定代表人, 主要负责人 … of a listed subject. Besides the
    stored cases: three clean years and the departments' evaluations and the county composite evaluation
    in force on the day (`evaluation:` measures), computed from the subject's records when asked."""
    ctx = _ctx(request)
    matters = ctx.measure_list.matters
    if matter is None or matter not in matters:
        listed = ", ".join(sorted(matters))
        code_ = "required" if matter is None else "unknown_matter"
        told = "name the matter you are deciding" if matter is None else f"matter {matter!r} is not on the measure list"
        raise ApiProblem(422, [ApiError("/query/matter", code_, f"{told}; one of: {listed}")])
    day = on or ctx.today()
    views: list[CaseView] = []
    cases: list[Case] = []
    async with ctx.engine.connect() as conn:
        for subject in sorted({code} | await ctx.store.subjects_reaching(conn, code)):
            records = await subject_records(conn, ctx.store.s, subject)
            views += await subject_cases(conn, ctx, subject, day, records)
            adverse = ctx.adverse_on(day)
            clean = clean_record_case(records, adverse, ctx.measure_list, day) if adverse and subject == code else None
            cases += [clean] if clean is not None else []
            if subject == code:  # evaluations reach the evaluated subject, not its related persons
                objections = (await poll_store.objections_of(conn, ctx.store.s, [code])).get(code, [])
                periods = ctx.evaluation_periods(records)
                cases += evaluation_cases(records, objections, periods, ctx.measure_list, day)
    answer = restriction_answer(code, matter, day, [v.case for v in views] + cases)
    answer["matter_label"] = matters[matter]
    answer["suspended_cases"] = _suspended(views, code, matter) if answer["suspended"] else []
    verdict = "restricted" if answer["restricted"] else "suspended" if answer["suspended"] else "not_restricted"
    await _log(ctx, principal, what=f"restrictions:{matter}", subject=code, purpose=purpose, answer=verdict)
    async with ctx.engine.begin() as conn:
        await ctx.store.add_check(
            conn,
            at=ctx.clock.now(),
            credential_id=principal.credential_id,
            role=principal.role.value,
            department=principal.department,
            code=code,
            matter=matter,
            on_date=day,
            answer=verdict,
            purpose=purpose,
        )
    return answer


def _suspended(views: list[CaseView], code: str, matter: str) -> list[dict[str, Any]]:
    """Extension: which cases are suspended for this matter, since when and why (异议核实中)."""
    found = []
    for view in views:
        t = view.case.trigger
        roles = {p.role for p in t.related_persons if p.id_number == code}
        reaching = [m for m in view.case.measures if t.subject_code == code or roles & set(m.related_person_roles)]
        if view.state is CaseState.SUSPENDED and any(matter in m.matters for m in reaching):
            found.append(
                {
                    "case_id": view.case_id,
                    "since": view.state_since.isoformat(),
                    "reason": view.reason,
                    "objection_ids": list(view.objection_ids),
                }
            )
    return found


@router.get("/v1/cases", summary="Cases with each implementing department's instruction and feedback state")
async def cases(
    request: Request,
    principal: Caller,
    purpose: Purpose = None,
    department: Annotated[str | None, Query(description="implementing department; a department sees its own")] = None,
    state: State | None = None,
    code: Annotated[str | None, Query(max_length=64, description="only this subject's cases")] = None,
    awaiting_feedback: Annotated[
        bool, Query(description="only cases whose instruction (to `department`) still awaits feedback (待反馈)")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    ctx = _ctx(request)
    department = department_scope(
        principal,
        department,
        f"a department sees the cases that instruct it: ask for department={principal.department} "
        "(只能查看本部门承担的联合奖惩案件)",
    )
    async with ctx.engine.connect() as conn:
        rows = await ctx.store.list_cases(
            conn,
            department=department,
            state=state,
            code=code,
            limit=limit,
            offset=offset,
            awaiting_feedback=awaiting_feedback,
        )
    filters = f"department={department or '*'},state={state or '*'}" + (
        ",awaiting_feedback" if awaiting_feedback else ""
    )
    await _log(
        ctx, principal, what=f"cases:{filters}", subject=code or "*", purpose=purpose, answer=f"{len(rows)} cases"
    )
    return {"cases": [_case(r) for r in rows], "count": len(rows), "limit": limit, "offset": offset}


@router.get("/v1/cases/{case_id}", summary="One case (extension of API.md)")
async def case(
    request: Request, principal: Caller, case_id: Annotated[str, Path(max_length=64)], purpose: Purpose = None
) -> dict[str, Any]:
    ctx = _ctx(request)
    async with ctx.engine.connect() as conn:
        row = await ctx.store.get_case(conn, case_id)
    own = principal.department
    if row is None or (principal.role is Role.DEPARTMENT and own not in {i["department"] for i in row["instructions"]}):
        raise ApiProblem(
            404, [ApiError("/case_id", "not_found", f"no case {case_id!r} that you may see (未找到该案件)")]
        )
    await _log(
        ctx, principal, what=f"case:{case_id}", subject=row["subject_code"], purpose=purpose, answer=row["state"]
    )
    return _case(row)


@router.get("/v1/checks", summary="Restriction checks asked (应查必查 log; extension of API.md)")
async def checks(
    request: Request,
    principal: Caller,
    purpose: Purpose = None,
    code: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """County and auditors see every check; a department sees the checks it asked itself."""
    ctx = _ctx(request)
    department = principal.department if principal.role is Role.DEPARTMENT else None
    async with ctx.engine.connect() as conn:
        rows = await ctx.store.list_checks(conn, code=code, department=department, limit=limit)
    await _log(ctx, principal, what="checks", subject=code or "*", purpose=purpose, answer=f"{len(rows)} checks")
    return {"checks": rows, "count": len(rows)}


def _case(row: dict[str, Any]) -> dict[str, Any]:
    instructions = [
        {
            "instruction_id": i["instruction_id"],
            "department": i["department"],
            "measures": i["measures"],
            "related_persons": i["persons"],
            "feedback_state": i["feedback_state"],
            "feedback": i["feedback"],
            "unanswered_measures": i["unanswered_measures"],
        }
        for i in row["instructions"]
    ]
    return {
        "case_id": row["case_id"],
        "code": row["subject_code"],
        "subject_kind": row["subject_kind"],
        "subject_name": row["subject_name"],
        "nature": row["nature"],
        "trigger": {
            "kind": row["trigger_kind"],
            "department": row["trigger_department"],
            "record_id": row["trigger_record_id"],
        },
        "since": row["since"],
        "until": row["until"],
        "state": row["state"],
        "state_since": row["state_since"],
        "reason": row["state_reason"],
        "wrongful": row["wrongful"],
        "restore_reputation": [
            i["department"]
            for i in instructions
            if row["wrongful"] and any(f["action_taken"] == "已执行" for f in i["feedback"])
        ],
        "objection_ids": row["objection_ids"],
        "measures": row["measures"],
        "measure_list_version": row["measure_list_version"],
        "departments": row["departments"],
        "instructions": instructions,
        "unanswered_departments": [i["department"] for i in instructions if i["feedback_state"] != "answered"],
    }


@router.get("/v1/scorecard", summary="Feedback completeness per implementing department for a month (执行反馈考核)")
async def scorecard(
    request: Request,
    principal: Caller,
    month: Annotated[str, Query(description="YYYY-MM: cases opened in this month (Asia/Shanghai)")],
    department: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """How completely each implementing department fed back on the instructions of the cases opened in the
    month: the sanctions part of the county's scorecard (000 L121). A department sees its own."""
    ctx = _ctx(request)
    chosen = month_of(month)
    department = department_scope(principal, department, "a department sees its own scorecard only")
    async with ctx.engine.connect() as conn:
        rows = await ctx.store.feedback_counts(conn, department=department, first=chosen.first, after=chosen.after)
    items = [
        {
            **row,
            "measures_answered": row["measures"] - row["unanswered_measures"],
            "completeness": rate(row["measures"] - row["unanswered_measures"], row["measures"]),
        }
        for row in rows
    ]
    return FastJSONResponse({"month": chosen.label, "part": "feedback", "departments": items})


@router.get("/v1/checks/compliance", summary="应查必查 compliance per department for a month (extension of API.md)")
async def check_compliance(
    request: Request,
    principal: Caller,
    month: Annotated[str, Query(description="YYYY-MM: licensing decisions of this month")],
    department: Annotated[str | None, Query(max_length=32)] = None,
) -> dict[str, Any]:
    """How many of each department's licensing decisions were preceded by a restriction check about the
    subject (001 L376; issue 22). A department sees its own."""
    ctx = _ctx(request)
    chosen = month_of(month)
    department = department_scope(principal, department, "a department sees its own compliance only")
    async with ctx.engine.connect() as conn:
        rows = await ctx.store.check_compliance(conn, department=department, first=chosen.first, after=chosen.after)
    await _log(ctx, principal, what="checks.compliance", subject=department or "*", purpose=None, answer=chosen.label)
    items = [
        {
            "department": r["department"],
            "decisions": r["decisions"],
            "checked_first": r["checked_first"],
            "rate": rate(r["checked_first"], r["decisions"]),
            "unchecked_record_ids": list(r["unchecked"] or []),
        }
        for r in rows
    ]
    return {"month": chosen.label, "departments": items}


@router.get("/v1/measures", summary="The measure list in force, public (失信惩戒措施清单, 001 L621, 003 L81)")
async def measure_list(request: Request) -> dict[str, Any]:
    """Public on purpose: the list of measures and their legal basis is published (001 L621); it names no
    subject. Extension of API.md (issue 22)."""
    ml = _ctx(request).measure_list

    def item(m: Measure) -> dict[str, Any]:
        return {
            "id": m.id,
            "nature": str(m.nature),
            "name": m.name,
            "category": str(m.category),
            "kind": str(m.kind),
            "effect": str(m.effect),
            "legal_basis": {"document": m.legal_basis.document, "provision": m.legal_basis.provision},
            "term_years": m.term_years,
            "matters": list(m.matters),
            "implementing_departments": list(m.implementing_departments),
            "triggers": list(m.triggers),
            "subject_kinds": sorted(m.subject_kinds),
            "related_person_roles": list(m.related_person_roles),
        }

    return {
        "version": ml.version,
        "effective_from": ml.effective_from.isoformat(),
        "source": ml.source,
        "matters": dict(ml.matters),
        "sanctions": [item(m) for m in ml.sanctions],
        "rewards": [item(m) for m in ml.rewards],
    }
