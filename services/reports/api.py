"""Reports HTTP endpoints (API.md "Reports"): issue, download and verify credit reports; batch checks;
the scorecard part of reports. I/O only: the content comes from `rules.view` and `rules.special`.

Who may do what (deny by default):
- department, county, auditor tokens: issue a check report (`POST /v1/reports`) and batch checks;
- the requesting department, county and auditor: read a check report and a check; county and auditor:
  the scorecard;
- anyone (rate-limited per address): issue the public version and the 专项信用报告 of a legal person or
  an individual business (never of a natural person: their report is asked for at the counter), read
  public reports by number, verify any report.
Every issue and every check is on the access log (who, what, about whom, why).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.auth import Principal, Role
from services.common.clock import SHANGHAI
from services.common.errors import ApiError
from services.common.http import ApiProblem, FastJSONResponse, require
from services.common.identifiers import check_citizen_id, check_uscc
from services.common.outcomes import emit, outcome_event
from services.common.scorecard import month_of
from services.reports import document, store
from services.reports.context import SERVICE, ReportsContext
from services.reports.rules.special import check_answer, special_statements
from services.reports.rules.view import credit_view

router = APIRouter(tags=["reports"])
Department = Annotated[Principal, Depends(require(Role.DEPARTMENT, Role.COUNTY, Role.AUDITOR))]
Overseer = Annotated[Principal, Depends(require(Role.COUNTY, Role.AUDITOR))]
NUMBER = re.compile(r"XYBG-\d{8}-\d{7}")
CHECK_NUMBER = re.compile(r"XYHC-\d{8}-\d{7}")
MAX_BATCH = 1000
Number = Annotated[str, Path(min_length=1, max_length=40, description="report number, e.g. XYBG-20261120-0000001")]


def ctx_of(request: Request) -> ReportsContext:
    ctx: ReportsContext = request.app.state.reports
    return ctx


def engine_of(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=64, description="USCC, or a natural person's ID number")
    matter: str = Field(min_length=1, max_length=64, description="the decision the report is for (measure list)")
    purpose: str | None = Field(default=None, max_length=500, description="why (access log), e.g. the case number")
    as_of: date | None = Field(default=None, description="YYYY-MM-DD (Asia/Shanghai); default today")
    formats: list[Literal["html", "pdf"]] = Field(default=["html", "pdf"], min_length=1)


class PublicReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["public", "special"] = "public"
    as_of: date | None = None
    formats: list[Literal["html", "pdf"]] = Field(default=["html", "pdf"], min_length=1)


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    matter: str = Field(min_length=1, max_length=64)
    codes: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1)
    purpose: str | None = Field(default=None, max_length=500, description="e.g. the tender's project number")
    as_of: date | None = None


# -- input rules ---------------------------------------------------------------------------------------


def natural_person(code: str) -> bool:
    return len(code) == 18 and code[:17].isdigit() and check_citizen_id(code).ok


def _code_problem(code: str, pointer: str) -> ApiError | None:
    if natural_person(code) or check_uscc(code).ok:
        return None
    problems = check_uscc(code).errors
    message = problems[0].message if problems else "不是有效的统一社会信用代码或身份证号码"
    return ApiError(pointer, "invalid_code", f"{message}；请核对主体代码 (check the subject's code)")


def _check_matter(ctx: ReportsContext, matter: str, pointer: str) -> None:
    if matter not in ctx.matters:
        listed = "、".join(f"{k}（{v}）" for k, v in sorted(ctx.matters.items()))
        raise ApiProblem(
            422,
            [ApiError(pointer, "unknown_matter", f"事项不在措施清单的事项目录中，应为其一：{listed} (unknown matter)")],
        )


def _check_as_of(ctx: ReportsContext, as_of: date | None, pointer: str) -> date:
    today = ctx.today()
    if as_of is None:
        return today
    if as_of > today:
        raise ApiProblem(
            422,
            [
                ApiError(
                    pointer, "future_date", f"信息截止日期不能晚于今天 {today.isoformat()} (as_of is in the future)"
                )
            ],
        )
    return as_of


def _unknown_subject(code: str, pointer: str) -> ApiProblem:
    return ApiProblem(
        404,
        [
            ApiError(
                pointer,
                "unknown_subject",
                f"交换平台没有主体 {code} 的任何记录；请核对统一社会信用代码（18 位）是否正确，或该主体是否在本县登记 "
                f"(the exchange has no record about {code}; check the code)",
            )
        ],
    )


# -- issuing ---------------------------------------------------------------------------------------------


async def issue_report(
    request: Request,
    *,
    kind: Literal["department", "public", "special"],
    code: str,
    as_of: date,
    matter: str | None,
    purpose: str | None,
    principal: Principal | None,
    formats: list[str],
    pointer: str,
) -> dict[str, Any]:
    ctx, engine = ctx_of(request), engine_of(request)
    audience: Literal["public", "department"] = "department" if kind == "department" else "public"
    async with engine.connect() as conn:
        records, outcomes = await store.files_of(conn, ctx.schema, [code])
    if not records.get(code):
        raise _unknown_subject(code, pointer)
    view = credit_view(
        code,
        records[code],
        outcomes.get(code, []),
        as_of=as_of,
        audience=audience,
        catalogue=ctx.catalogue,
        matter=matter,
        matter_label=ctx.matters.get(matter) if matter else None,
    )
    now = ctx.now().astimezone(SHANGHAI)
    issued_on = ctx.today()
    requester = principal.department or principal.role.value if principal else "public"
    requester_name = principal.name if principal else "信用主体本人（信用网站自助查询）"
    purpose_text = (
        f"{ctx.matters[matter]}（{matter}）"
        if matter
        else {"public": "信用主体自查、提供给第三方", "special": "代替无违法违规证明"}[kind]
    )
    async with engine.begin() as conn:
        seq = await store.next_number(conn, ctx.schema, "report_seq")
        number = f"XYBG-{issued_on:%Y%m%d}-{seq:07d}"
        content: dict[str, Any] = {
            "number": number,
            "kind": kind,
            "issued_at": now.isoformat(),
            "issued_on": issued_on.isoformat(),
            "valid_until": ctx.valid_until(kind, issued_on).isoformat(),
            "issuer": ctx.issuer,
            "requester": requester_name,
            "purpose_text": purpose_text,
            "view": view,
        }
        if kind == "special":
            content["statements"] = special_statements(view, ctx.catalogue)
        issued = document.issue(content, ctx.signer, ctx.verify_url(number), with_pdf="pdf" in formats)
        superseded = await store.save_report(
            conn,
            ctx.schema,
            {
                "number": number,
                "kind": kind,
                "subject_code": code,
                "requester": requester,
                "credential_id": principal.credential_id if principal else None,
                "matter": matter,
                "purpose": purpose,
                "as_of": as_of,
                "issued_at": now,
                "valid_until": date.fromisoformat(content["valid_until"]),
                "content": content,
                "content_digest": issued.content_digest,
                "signature": issued.signature,
                "key_id": ctx.signer.key_id,
                "html": issued.html,
                "pdf": issued.pdf,
                "html_sha256": issued.html_sha256,
                "pdf_sha256": issued.pdf_sha256,
            },
        )
        await _audit(
            ctx,
            conn,
            principal,
            what=f"report:{kind}:{matter or '-'}",
            codes=[code],
            purpose=purpose,
            answers=[number],
            number=number,
        )
    return {
        "number": number,
        "kind": kind,
        "code": code,
        "as_of": as_of.isoformat(),
        "issued_at": content["issued_at"],
        "valid_until": content["valid_until"],
        "content_digest": issued.content_digest,
        "signature": issued.signature,
        "key_id": ctx.signer.key_id,
        "supersedes": superseded,
        "verification_url": ctx.verify_url(number),
        "html_url": f"/v1/reports/{number}.html",
        "pdf_url": f"/v1/reports/{number}.pdf",
        "html_sha256": issued.html_sha256,
        "pdf_sha256": issued.pdf_sha256,
        "content": content,
        "_pdf": issued.pdf,
        "_html": issued.html,
    }


async def _audit(
    ctx: ReportsContext,
    conn: Any,
    principal: Principal | None,
    *,
    what: str,
    codes: list[str],
    purpose: str | None,
    answers: list[str],
    number: str,
) -> None:
    """One access-log event per subject, in the caller's transaction (the issue and its log commit together).
    Ids are the report or check number and the code: unique, and no random number per subject."""
    at = ctx.now()
    events = [
        outcome_event(
            service=SERVICE,
            kind="audit.access",
            subject=code,
            event_id=f"access:{SERVICE}:{number}:{code}",
            time=at,
            data={
                "who": principal.credential_id if principal else "public",
                "department": principal.department if principal else None,
                "role": principal.role.value if principal else "public",
                "name": principal.name if principal else "公众",
                "what": what,
                "subject": code,
                "purpose": purpose,
                "answer": answer,
                "at": at.isoformat(),
            },
        )
        for code, answer in zip(codes, answers, strict=True)
    ]
    await emit(conn, schema=ctx.schema, topic=ctx.audit_topic, events=events)


def _public_answer(issued: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in issued.items() if not k.startswith("_")}


@router.post(
    "/v1/reports",
    status_code=201,
    summary="Issue a numbered credit-record check report for one decision (department token; logged)",
    responses={
        404: {"description": "the exchange has no record about this subject"},
        422: {"description": "unknown matter (the answer lists the vocabulary), as_of in the future, bad code"},
    },
)
async def post_report(request: Request, principal: Department, body: ReportRequest) -> FastJSONResponse:
    ctx = ctx_of(request)
    problem = _code_problem(body.code, "/body/code")
    if problem:
        raise ApiProblem(422, [problem])
    _check_matter(ctx, body.matter, "/body/matter")
    as_of = _check_as_of(ctx, body.as_of, "/body/as_of")
    issued = await issue_report(
        request,
        kind="department",
        code=body.code,
        as_of=as_of,
        matter=body.matter,
        purpose=body.purpose,
        principal=principal,
        formats=list(body.formats),
        pointer="/body/code",
    )
    return FastJSONResponse(_public_answer(issued), status_code=201)


@router.post(
    "/v1/subjects/{code}/reports",
    status_code=201,
    summary="The subject's own public-version report or 专项信用报告, free of charge (public; rate-limited)",
)
async def post_public_report(
    request: Request, code: Annotated[str, Path(min_length=1, max_length=64)], body: PublicReportRequest
) -> FastJSONResponse:
    ctx = ctx_of(request)
    _check_public_code(code, "/path/code")
    as_of = _check_as_of(ctx, body.as_of, "/body/as_of")
    issued = await issue_report(
        request,
        kind=body.kind,
        code=code,
        as_of=as_of,
        matter=None,
        purpose=None,
        principal=None,
        formats=list(body.formats),
        pointer="/path/code",
    )
    return FastJSONResponse(_public_answer(issued), status_code=201)


def _check_public_code(code: str, pointer: str) -> None:
    if natural_person(code):
        raise ApiProblem(
            403,
            [
                ApiError(
                    pointer,
                    "natural_person",
                    "自然人的信用报告不在网上公开出具，请本人持身份证件到县信用信息服务窗口申请 "
                    "(a natural person's report is not issued to the public)",
                )
            ],
        )
    problem = _code_problem(code, pointer)
    if problem:
        raise ApiProblem(422, [problem])


async def _report_row(request: Request, number: str) -> Any:
    if not NUMBER.fullmatch(number):
        raise _not_issued(number)
    async with engine_of(request).connect() as conn:
        row = await store.load_report(conn, ctx_of(request).schema, number)
    if row is None:
        raise _not_issued(number)
    return row


def _not_issued(number: str) -> ApiProblem:
    return ApiProblem(
        404,
        [
            ApiError(
                "/path/number",
                "unknown_report",
                f"未出具过编号为 {number} 的报告，该报告可能是伪造的 (no report with this number was issued)",
            )
        ],
    )


async def _readable(request: Request, row: Any) -> None:
    """A check report is the requesting department's (and the county's and auditor's); public and 专项
    reports are public documents."""
    if row.kind != "department":
        return
    from services.common.http import authorize

    principal = await authorize(request, frozenset({Role.DEPARTMENT, Role.COUNTY, Role.AUDITOR}))
    if principal.role is Role.DEPARTMENT and principal.department != row.requester:
        raise ApiProblem(
            403,
            [
                ApiError(
                    "/path/number",
                    "forbidden",
                    "该报告由其他部门申请出具，仅申请部门可读取 (another department's report)",
                )
            ],
        )


@router.get("/v1/reports/public-key", summary="The public key that verifies reports (key id, PEM)")
async def get_public_key(request: Request) -> FastJSONResponse:
    return FastJSONResponse(ctx_of(request).describe_key())


@router.get("/v1/reports/{number}.pdf", summary="A report's PDF, byte for byte as issued")
async def get_pdf(request: Request, number: Number) -> Response:
    row = await _report_row(request, number)
    await _readable(request, row)
    pdf = row.pdf
    if pdf is None:
        pdf = await _render_pdf_later(request, row)
    return Response(
        bytes(pdf),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{number}.pdf"'},
    )


async def _render_pdf_later(request: Request, row: Any) -> bytes:
    """A report issued as HTML only gets its PDF on first download, from the stored content and seal."""
    ctx = ctx_of(request)
    seal = {"content_digest": row.content_digest, "signature": row.signature, "key_id": row.key_id}
    body = document.render_pdf(document.render_html(row.content, seal, ctx.verify_url(row.number), for_pdf=True))
    pdf = document.with_trailer(body, number=row.number, signer=ctx.signer, pdf=True)
    import hashlib

    async with engine_of(request).begin() as conn:
        from services.common.db import sql

        stored: bytes = (
            await conn.execute(
                sql(
                    f"UPDATE {ctx.schema}.reports SET pdf = coalesce(pdf, :pdf), "
                    "pdf_sha256 = coalesce(pdf_sha256, :sha) WHERE number = :n RETURNING pdf"
                ),
                {"pdf": pdf, "sha": hashlib.sha256(pdf).hexdigest(), "n": row.number},
            )
        ).scalar_one()
    return bytes(stored)


@router.get("/v1/reports/{number}.html", summary="A report's HTML, byte for byte as issued")
async def get_html(request: Request, number: Number) -> Response:
    row = await _report_row(request, number)
    await _readable(request, row)
    return Response(bytes(row.html), media_type="text/html; charset=utf-8")


@router.get("/v1/reports/{number}/verification", summary="Is this a report the exchange issued? (public)")
async def get_verification(request: Request, number: Number) -> FastJSONResponse:
    row = await _report_row(request, number)
    return FastJSONResponse(verification(ctx_of(request), row))


def verification(ctx: ReportsContext, row: Any) -> dict[str, Any]:
    today = ctx.today()
    expired = row.valid_until < today
    status = "superseded" if row.superseded_by else "expired" if expired else "valid"
    subject = row.content["view"]["subject"]
    return {
        "number": row.number,
        "exists": True,
        "status": status,
        "kind": row.kind,
        "title": document.KINDS[row.kind],
        "subject": {"code": subject["code"], "name": subject["name"]},
        "issued_at": row.issued_at.isoformat(),
        "valid_until": row.valid_until.isoformat(),
        "as_of": row.as_of.isoformat(),
        "issuer": row.content["issuer"],
        "superseded": row.superseded_by is not None,
        "superseded_by": row.superseded_by,
        "content_digest": row.content_digest,
        "signature": row.signature,
        "key_id": row.key_id,
        "pdf_sha256": row.pdf_sha256,
        "html_sha256": row.html_sha256,
    }


async def verify_bytes(request: Request, data: bytes) -> dict[str, Any]:
    """Check an uploaded report file: its signature trailer offline, then against the issued report."""
    ctx = ctx_of(request)
    checked = document.check_file(data, ctx.keys)
    answer: dict[str, Any] = {"number": checked.number, "file_sha256": checked.file_sha256, "authentic": False}
    if not checked.ok:
        return {**answer, "problem": checked.problem}
    assert checked.number is not None
    try:
        row = await _report_row(request, checked.number)
    except ApiProblem:
        return {**answer, "problem": f"未出具过编号为 {checked.number} 的报告 (no such report)"}
    if checked.file_sha256 not in (row.pdf_sha256, row.html_sha256):
        return {**answer, "problem": "文件与出具的报告不一致 (the file is not the one issued)"}
    return {**answer, "authentic": True, "problem": None, "report": verification(ctx, row)}


@router.post(
    "/v1/reports:verify",
    summary="Check a report file (PDF or HTML, sent as the request body): signature, digest, status (public)",
)
async def post_verify(request: Request) -> FastJSONResponse:
    data = await request.body()
    if len(data) > ctx_of(request).max_upload_bytes:
        raise ApiProblem(413, [ApiError("/body", "too_large", "文件过大 (file too large)")])
    return FastJSONResponse(await verify_bytes(request, data))


@router.get("/v1/reports/{number}", summary="A report's metadata and content (the requester, county, auditor)")
async def get_report(request: Request, number: Number) -> FastJSONResponse:
    row = await _report_row(request, number)
    await _readable(request, row)
    return FastJSONResponse({**verification(ctx_of(request), row), "content": row.content})


# -- batch checks ------------------------------------------------------------------------------------------


@router.post(
    "/v1/checks:batch",
    status_code=201,
    summary="应查必查 for a tender or procurement: up to 1,000 codes, one check number (logged, counted)",
)
async def post_batch_check(request: Request, principal: Department, body: CheckRequest) -> FastJSONResponse:
    ctx, engine = ctx_of(request), engine_of(request)
    if len(body.codes) > MAX_BATCH:
        raise ApiProblem(
            422,
            [
                ApiError(
                    "/body/codes",
                    "too_many",
                    f"一次最多核查 {MAX_BATCH} 个主体，实为 {len(body.codes)} 个 (at most {MAX_BATCH} codes)",
                )
            ],
        )
    problems = [p for i, c in enumerate(body.codes) if (p := _code_problem(c, f"/body/codes/{i}")) is not None]
    if problems:
        raise ApiProblem(422, problems[:50])
    _check_matter(ctx, body.matter, "/body/matter")
    as_of = _check_as_of(ctx, body.as_of, "/body/as_of")
    unique = sorted(set(body.codes))
    async with engine.connect() as conn:
        records, outcomes = await store.files_of(conn, ctx.schema, unique)
    by_code = {
        code: check_answer(
            code,
            records.get(code, []),
            outcomes.get(code, []),
            as_of=as_of,
            matter=body.matter,
            catalogue=ctx.catalogue,
        )
        for code in unique
    }
    answers = [by_code[c] for c in body.codes]
    counts: dict[str, int] = {}
    for a in answers:
        counts[a["result"]] = counts.get(a["result"], 0) + 1
    now = ctx.now().astimezone(SHANGHAI)
    async with engine.begin() as conn:
        seq = await store.next_number(conn, ctx.schema, "check_seq")
        number = f"XYHC-{ctx.today():%Y%m%d}-{seq:07d}"
        await store.save_check(
            conn,
            ctx.schema,
            {
                "number": number,
                "department": principal.department,
                "credential_id": principal.credential_id,
                "role": principal.role.value,
                "matter": body.matter,
                "purpose": body.purpose,
                "as_of": as_of,
                "at": now,
                "codes": len(answers),
                "answers": answers,
            },
        )
        await _audit(
            ctx,
            conn,
            principal,
            what=f"check:{body.matter}:{number}",
            codes=unique,
            purpose=body.purpose,
            answers=[by_code[c]["result"] for c in unique],
            number=number,
        )
    return FastJSONResponse(
        {
            "number": number,
            "matter": body.matter,
            "matter_label": ctx.matters[body.matter],
            "as_of": as_of.isoformat(),
            "checked_at": now.isoformat(),
            "department": principal.department,
            "counts": counts,
            "answers": answers,
        },
        status_code=201,
    )


@router.get("/v1/checks/{number}", summary="A filed batch check (the department that made it, county, auditor)")
async def get_check(request: Request, principal: Department, number: Number) -> FastJSONResponse:
    if not CHECK_NUMBER.fullmatch(number):
        raise ApiProblem(
            404, [ApiError("/path/number", "unknown_check", f"没有编号为 {number} 的核查 (no such check)")]
        )
    async with engine_of(request).connect() as conn:
        row = await store.load_check(conn, ctx_of(request).schema, number)
    if row is None:
        raise ApiProblem(
            404, [ApiError("/path/number", "unknown_check", f"没有编号为 {number} 的核查 (no such check)")]
        )
    if principal.role is Role.DEPARTMENT and principal.department != row.department:
        raise ApiProblem(
            403, [ApiError("/path/number", "forbidden", "其他部门的核查记录 (another department's check)")]
        )
    return FastJSONResponse(
        {
            "number": row.number,
            "department": row.department,
            "matter": row.matter,
            "purpose": row.purpose,
            "as_of": row.as_of.isoformat(),
            "checked_at": row.at.isoformat(),
            "answers": row.answers,
        }
    )


@router.get("/v1/scorecard", summary="Checks and check reports per department in a month (county, auditor)")
async def get_scorecard(
    request: Request, principal: Overseer, month: Annotated[str, Query(description="YYYY-MM")]
) -> FastJSONResponse:
    m = month_of(month)
    async with engine_of(request).connect() as conn:
        counts = await store.scorecard(conn, ctx_of(request).schema, m.start, m.end)
    return FastJSONResponse({"month": m.label, "service": SERVICE, "departments": dict(sorted(counts.items()))})
