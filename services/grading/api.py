"""Grading HTTP endpoints (API.md "Grading"). I/O only: grades come from `grades.compute`.

Grades are for supervision, not for the public (DOMAIN §5, 000 L177): department, county and auditor
tokens only, and every read of a grade is logged on the audit topic (DOMAIN §8).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from services.common.access_log import log_access
from services.common.auth import Principal, Role
from services.common.clock import today
from services.common.http import ApiError, ApiProblem, FastJSONResponse, require
from services.common.records import subject_records
from services.grading.handlers import GradingContext
from services.grading.rules import RuleSet, RuleSetLookupError, rule_set_version_for
from services.grading.rules.grades import SERVICE, answer, compute, subject_of

router = APIRouter(prefix="/v1", tags=["grading"])
Reader = Annotated[Principal, Depends(require(Role.DEPARTMENT, Role.COUNTY, Role.AUDITOR))]


EXAMPLE = {
    "code": "91500101MA5U7K3PXJ",
    "rule_set": "chongqing-amr",
    "rule_set_version": 1,
    "as_of": "2026-11-20",
    "subject_kind": "legal_person",
    "grade": "B",
    "reason": "B 警示：一年内受到警告或不超过 30,000 元的罚款、没收等处罚（000 L184-L185）(B: …)",
    "since": "2026-11-02",
    "next_review": "2027-11-03",
    "supervision_level": "II",
    "explanation": [
        {
            "record_id": "AMR-2026-000123",
            "department": "AMR",
            "rule": "2026-11-02 警告（000 L184-L185）(warning)",
            "effect": "B；修复期至 2027-11-02 (repair period ends 2027-11-02)",
        }
    ],
}


def _ctx(request: Request) -> GradingContext:
    ctx: GradingContext = request.app.state.grading
    return ctx


Context = Annotated[GradingContext, Depends(_ctx)]


@router.get(
    "/subjects/{code}/grade",
    summary="A subject's credit grade as of a date, with its explanation (not public; every read is logged)",
    responses={
        200: {"content": {"application/json": {"example": EXAMPLE}}},
        401: {"description": "no or bad token (grades are not public)"},
        404: {"description": "the exchange has no record about this subject"},
        422: {"description": "unknown rule set, a date before its first version, or a malformed date"},
    },
)
async def get_grade(
    request: Request,
    principal: Reader,
    ctx: Context,
    code: Annotated[str, Path(min_length=1, max_length=64, description="USCC, or the ID number of a person")],
    as_of: Annotated[date | None, Query(description="YYYY-MM-DD (Asia/Shanghai); default today")] = None,
    rule_set: Annotated[str | None, Query(max_length=100, description="default: the jurisdiction's")] = None,
    purpose: Annotated[str | None, Query(max_length=500, description="why you read it (access log)")] = None,
) -> FastJSONResponse:
    day = as_of or today(ctx.clock)
    rule_set_id = rule_set or ctx.default_rule_set
    _check_rule_set(ctx, rule_set_id, day)
    engine = request.app.state.engine
    async with engine.connect() as conn:
        records = await subject_records(conn, ctx.schema, code)
    if not records:
        await _log(request, ctx, principal, code, purpose, answer="unknown subject")
        raise ApiProblem(
            404,
            [
                ApiError(
                    "/path/code",
                    "unknown_subject",
                    f"the exchange has no record about {code}, so it cannot tell what kind of subject it is or "
                    "grade it (交换平台无该主体的任何记录)",
                )
            ],
        )
    subject = subject_of(code, records)
    result = compute(records, subject, ctx.rule_sets, rule_set_id, day)
    await _log(request, ctx, principal, code, purpose, answer=f"{result.rule_set}:{result.grade or 'null'}")
    return FastJSONResponse(answer(subject, result))


@router.get("/rule-sets", summary="The grading rule sets, their versions, and the jurisdiction's default")
async def get_rule_sets(principal: Reader, ctx: Context) -> FastJSONResponse:
    return FastJSONResponse(
        {
            "jurisdiction": ctx.jurisdiction.jurisdiction,
            "default": ctx.default_rule_set,
            "rule_sets": [_describe(ctx.rule_sets[key]) for key in sorted(ctx.rule_sets)],
        }
    )


def _check_rule_set(ctx: GradingContext, rule_set_id: str, day: date) -> None:
    """422 for a rule set that does not exist, or none of whose versions is in force on `day`."""
    try:
        rule_set_version_for(ctx.rule_sets, rule_set_id, day)
    except RuleSetLookupError as exc:
        if rule_set_id not in ctx.rule_sets:
            error = ApiError("/query/rule_set", "unknown_rule_set", f"{exc} (未知的分级规则集)")
        else:
            error = ApiError("/query/as_of", "rule_set_not_in_force", f"{exc} (该日期规则集尚未生效)")
        raise ApiProblem(422, [error]) from None


async def _log(
    request: Request, ctx: GradingContext, principal: Principal, code: str, purpose: str | None, *, answer: str
) -> None:
    await log_access(
        request.app.state.engine,
        schema=ctx.schema,
        topic=ctx.audit_topic,
        service=SERVICE,
        principal=principal,
        what="grade",
        subject=code,
        purpose=purpose,
        at=ctx.clock.now(),
        answer=answer,
    )


def _describe(rule_set: RuleSet) -> dict[str, Any]:
    return {
        "id": rule_set.id,
        "title": rule_set.title,
        "engine": rule_set.engine,
        "source": rule_set.source,
        "versions": [
            {
                "version": v.version,
                "effective_from": v.effective_from.isoformat(),
                "subject_kinds": sorted(v.subject_kinds),
                "look_back_years": v.look_back_years,
                "grades": {
                    g: {"name": label.name, "english": label.english, "plate": label.plate}
                    for g, label in v.grades.items()
                },
            }
            for v in rule_set.versions
        ],
    }
