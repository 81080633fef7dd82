"""Publish HTTP endpoints (API.md "Publish"). I/O only: rules live in derive/deadlines, SQL in store.

Public, no token: the disclosures (published records only, masked, ready-made JSON) and objections.
Department, county and auditor tokens: the disclosure clock per department and the outcome feed; both
reads are written to the access log.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Literal
from urllib.parse import unquote

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.common.access_log import log_access
from services.common.auth import Principal, Role
from services.common.clock import SHANGHAI
from services.common.errors import problem_body
from services.common.http import (
    ApiError,
    ApiProblem,
    FastJSONResponse,
    OptionalPrincipal,
    department_scope,
    forbidden,
    require,
)
from services.common.scorecard import month_of
from services.publish import deadlines, filing, objections, repairs, scorecard, store, withdrawals
from services.publish.context import PublishContext
from services.publish.filing import normalise_code
from services.publish.rules.cases import objection_overdue
from services.publish.rules.derive import query_tokens
from services.publish.rules.withdrawal import notice

router = APIRouter()
Supervisor = Annotated[Principal, Depends(require(Role.DEPARTMENT, Role.COUNTY, Role.AUDITOR))]
_CODE = re.compile(r"[0-9A-Z]{15,20}")  # a whole credit code or ID number: exact match, never a name search
_CURSOR_SEPARATOR = "~"  # never in a public record id


def _ctx(request: Request) -> PublishContext:
    ctx: PublishContext = request.app.state.publish
    return ctx


def _bad_query(path: str, message: str) -> ApiProblem:
    return ApiProblem(422, [ApiError(path, "invalid", message)])


def _unavailable() -> ApiProblem:
    message = "公示查询暂不可用，请稍后重试 (the database is unavailable right now; retry later)"
    return ApiProblem(503, [ApiError("", "unavailable", message)], {"Retry-After": "2"})


def _like_pattern(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def is_code(text: str) -> bool:
    """A whole credit code or ID number (searched exactly), not part of a name."""
    return _CODE.fullmatch(normalise_code(text)) is not None


async def find_published(
    ctx: PublishContext,
    text: str,
    *,
    before: tuple[date, str] | None = None,
    record_types: Sequence[str] | None = None,
    limit: int,
) -> list[tuple[date, str, str]]:
    """The public search (API and portal): a whole code exactly, else part of the name; may raise
    :class:`store.ReadsUnavailable`."""
    code = is_code(text)
    return await ctx.reads.search(
        code=normalise_code(text) if code else None,
        fragment=(_like_pattern(text), query_tokens(text)) if text and not code else None,
        before=before,
        record_types=record_types,
        limit=limit,
    )


async def count_published(ctx: PublishContext, text: str, *, record_types: Sequence[str] | None = None) -> int:
    """How many records :func:`find_published` finds in all (up to ``store.public.COUNT_CAP`` + 1)."""
    code = is_code(text)
    return await ctx.reads.count(
        code=text.upper() if code else None,
        fragment=(_like_pattern(text), query_tokens(text)) if text and not code else None,
        record_types=record_types,
    )


def parse_cursor(cursor: str) -> tuple[date, str] | None:
    """(decision date, public id) of a page cursor, or None when it is not one."""
    decided, _, after_id = cursor.partition(_CURSOR_SEPARATOR)
    try:
        return (date.fromisoformat(decided), after_id)
    except ValueError:
        return None


def make_cursor(decided: date, public_id: str) -> str:
    return f"{decided.isoformat()}{_CURSOR_SEPARATOR}{public_id}"


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """The search's parameters, as ``search_disclosures`` receives them once FastAPI has validated them."""

    text: str
    limit: int = 20
    cursor: str | None = None
    record_type: str | None = None
    before: tuple[date, str] | None = None

    @property
    def key(self) -> tuple[str, int, str | None, str | None]:
        """The public read cache's key of this search (the same for every spelling of it)."""
        return (self.text, self.limit, self.cursor, self.record_type)


SEARCH_PATH = "/v1/disclosures"
_SEARCH_PARAMETERS = frozenset({"q", "limit", "cursor", "record_type"})
_LIMIT = re.compile(r"[1-9][0-9]{0,2}")


_PERCENT_TRIPLETS = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def _unquote_plus(text: str) -> str:
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    if _PERCENT_TRIPLETS.fullmatch(text):  # a percent-encoded term (every CJK search): decoded in C
        return bytes.fromhex(text.replace("%", "")).decode("utf-8", "replace")
    return unquote(text)


def query_pairs(query_string: bytes) -> list[tuple[str, str]]:
    """``parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)``, as Starlette reads a query
    string, without urllib's per-triplet Python loop for a value that is all ``%XX`` (7 % of a search's
    CPU once it skips FastAPI); anything else is unquoted by urllib itself. tests/unit/test_public_search.py
    compares the two."""
    pairs = []
    for part in query_string.decode("latin-1").split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((_unquote_plus(name), _unquote_plus(value)))
    return pairs


def plain_search_query(query_string: bytes) -> SearchQuery | None:
    """The parameters of a search whose query string FastAPI would accept as it is (parsed as Starlette
    parses it), or None: anything unusual (a parameter given twice, a limit out of range or not written as
    plain digits, a value too long, a cursor that is not one, a NUL character) goes to the route, whose
    validation and error handlers answer as they always have. Parameters the route does not take are
    ignored, as FastAPI ignores them."""
    given: dict[str, str] = {}
    for name, value in query_pairs(query_string):
        if name in _SEARCH_PARAMETERS:
            if name in given or "\x00" in value:
                return None
            given[name] = value
    q, limit_text = given.get("q"), given.get("limit")
    cursor, record_type = given.get("cursor"), given.get("record_type")
    if (q is not None and len(q) > 100) or (record_type is not None and len(record_type) > 64):
        return None
    limit = 20
    if limit_text is not None:
        if not _LIMIT.fullmatch(limit_text) or int(limit_text) > 100:
            return None
        limit = int(limit_text)
    before = None
    if cursor:  # an empty cursor is no cursor, as in the route
        before = parse_cursor(cursor) if len(cursor) <= 300 else None
        if before is None:
            return None
    return SearchQuery((q or "").strip(), limit, cursor, record_type, before)


async def search_body(ctx: PublishContext, search: SearchQuery) -> bytes:
    """The search's JSON answer (API.md "Publish"); may raise :class:`store.ReadsUnavailable`."""
    types = [search.record_type] if search.record_type else None
    rows = await find_published(ctx, search.text, before=search.before, record_types=types, limit=search.limit + 1)
    page = rows[: search.limit]
    next_cursor = None
    if len(rows) > search.limit:
        decided_on, last_id, _ = page[-1]
        next_cursor = make_cursor(decided_on, last_id)
    items = ",".join(body for _, _, body in page).encode()
    head = orjson.dumps({"q": search.text, "next_cursor": next_cursor})[:-1]
    return head + b',"items":[' + items + b"]}"


@router.get(SEARCH_PATH, summary="Search published records by name or credit code (公示信息查询)")
async def search_disclosures(
    request: Request,
    q: Annotated[str | None, Query(max_length=100, description="名称（部分）或统一社会信用代码/身份证号码")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=300, description="next_cursor of the previous page")] = None,
    record_type: Annotated[
        str | None, Query(max_length=64, description="只查该类记录，如 serious_untrustworthy_listing（名单）")
    ] = None,
) -> Response:
    """Published records only, masked, newest decision first; ``q`` is a whole code or part of a name.

    Most searches never reach this function: ``public_search.SearchFastPath`` answers them before FastAPI's
    routing with the same :func:`search_body`; this route answers what that path passes on (unusual spellings,
    invalid parameters: FastAPI's validation and the 422 body) and documents the endpoint."""
    before = parse_cursor(cursor) if cursor else None
    if cursor and before is None:
        raise _bad_query("/query/cursor", "cursor must be the next_cursor of a previous page")
    search = SearchQuery((q or "").strip(), limit, cursor, record_type, before)
    ctx = _ctx(request)

    async def compute() -> Response:
        try:
            body = await search_body(ctx, search)
        except store.ReadsUnavailable:
            raise _unavailable() from None
        return Response(body, media_type="application/json")

    return await ctx.public_cache.serve(request, ctx.reads, "search", search.key, compute)


@router.get("/v1/disclosures/{record_id}", summary="One published record (公示记录)")
async def get_disclosure(request: Request, record_id: str) -> Response:
    """A published record's public JSON; a record its department revoked or changed off the portal answers
    410 with the notice (已撤销 / 已更正 and the reason, 行政处罚法 Art. 48) and none of its content."""
    ctx = _ctx(request)
    reads = ctx.reads

    async def compute() -> Response:
        try:
            body = await reads.published(record_id)
            gone = await reads.withdrawn(record_id) if body is None else None
        except store.ReadsUnavailable:
            raise _unavailable() from None
        shown = notice(orjson.loads(gone)) if gone is not None else None
        if shown is not None:
            why = shown["withdrawal"]["reason"]
            message = f"该记录{shown['status']}，已撤下公示：{why} (withdrawn by its department: {why})"
            return FastJSONResponse(
                {**problem_body(410, [ApiError("/path/record_id", "withdrawn", message)]), "record": shown},
                status_code=410,
            )
        if body is None:
            message = "没有公示中的这条记录（可能从未公示或已撤下） (no published record with this id)"
            raise ApiProblem(404, [ApiError("/path/record_id", "not_found", message)])
        return Response(body.encode(), media_type="application/json")

    return await ctx.public_cache.serve(request, reads, "record", record_id, compute)


class ObjectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record_id: str = Field(min_length=3, max_length=200, description="公示记录编号 <部门>.<部门记录编号>")
    subject_code: str = Field(min_length=1, max_length=64, description="统一社会信用代码或身份证号码")
    reason: str = Field(min_length=1, max_length=4000, description="异议理由")
    contact: str = Field(min_length=1, max_length=200, description="联系方式（不公开）")


@router.post("/v1/objections", status_code=201, summary="File an objection to a record (提出异议)")
async def post_objection(request: Request, body: ObjectionIn, caller: OptionalPrincipal) -> Response:
    if caller is not None and caller.role is Role.AUDITOR:
        raise forbidden("auditors read, they do not file objections (审计只读)")
    raised_by = "subject" if caller is None else caller.department or caller.role.value
    try:
        case = await objections.file_objection(
            _ctx(request),
            record_id=body.record_id,
            subject_code=normalise_code(body.subject_code),
            reason=body.reason,
            contact=body.contact,
            raised_by=raised_by,
            trusted=caller is not None,
        )
    except filing.Refused as refused:
        raise ApiProblem(refused.status, [ApiError(refused.path, refused.code, refused.message)]) from None
    return FastJSONResponse({"objection": objections.view(case)}, status_code=201)


@router.get("/v1/objections/{objection_id}", summary="The state of an objection (异议办理进度)")
async def get_objection(
    request: Request, objection_id: str, code: Annotated[str, Query(min_length=1, max_length=64)]
) -> Response:
    ctx = _ctx(request)
    async with ctx.engine.connect() as conn:
        case = await store.objection(conn, ctx.schema, objection_id)
    if case is None or case["subject_code"] != normalise_code(code):
        message = "没有找到该异议，请核对编号和主体代码 (no objection with this id for this subject code)"
        raise ApiProblem(404, [ApiError("/path/objection_id", "not_found", message)])
    return FastJSONResponse({"objection": objections.view(case)})


@router.get("/v1/objections", summary="Objections to a department's records, soonest due first (异议办理)")
async def list_objections(
    request: Request,
    caller: Supervisor,
    department: Annotated[str | None, Query(max_length=32)] = None,
    state: Annotated[Literal["open", "all"], Query(description="open: awaiting an answer or a correction")] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    """A department sees the objections to its own records; county and auditor see all. Access-logged."""
    ctx = _ctx(request)
    department = department_scope(caller, department, "a department sees the objections to its own records only")
    async with ctx.engine.connect() as conn:
        cases = await store.objections_of(
            conn, ctx.schema, department=department, open_only=state == "open", limit=limit + 1
        )
    await _log(ctx, caller, "objections", department or "*")
    today = ctx.today()
    items = [
        {**objections.view(c), "department": c["department"], "overdue": objection_overdue(c, today)}
        for c in cases[:limit]
    ]
    return FastJSONResponse(
        {"as_of": today.isoformat(), "department": department, "objections": items, "truncated": len(cases) > limit}
    )


class RepairIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record_id: str = Field(min_length=3, max_length=200, description="公示记录编号 <部门>.<部门记录编号>")
    subject_code: str = Field(min_length=1, max_length=64, description="统一社会信用代码或身份证号码")
    commitment: str = Field(min_length=10, max_length=4000, description="信用承诺（承诺内容将作为信用记录留存）")
    fulfilment: str = Field(min_length=1, max_length=4000, description="法定义务履行情况（如罚款缴纳凭证号）")
    contact: str = Field(min_length=1, max_length=200, description="联系方式（不公开）")
    external_reference: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="信用中国转来的申请编号 (county only: the bridge forwards repairs filed at 信用中国)",
    )


# A repair filed at 信用中国 (NDRC Order 36: the single intake) keeps its reference as who raised it.
CREDIT_CHINA = "信用中国:"


@router.post("/v1/repairs", status_code=201, summary="Apply for credit repair of a record (申请信用修复)")
async def post_repair(request: Request, body: RepairIn, caller: OptionalPrincipal) -> Response:
    """After the minimum publicity period of a repairable record; refused with the reason otherwise."""
    if caller is not None and caller.role is Role.AUDITOR:
        raise forbidden("auditors read, they do not apply for repair (审计只读)")
    if body.external_reference is not None and (caller is None or caller.role is not Role.COUNTY):
        raise forbidden("只有县信用平台可转交信用中国的修复申请 (only the county forwards 信用中国 applications)")
    raised_by = "subject" if caller is None else caller.department or caller.role.value
    if body.external_reference is not None:
        raised_by = CREDIT_CHINA + body.external_reference
    try:
        case = await repairs.file_repair(
            _ctx(request),
            record_id=body.record_id,
            subject_code=normalise_code(body.subject_code),
            commitment=body.commitment,
            fulfilment=body.fulfilment,
            contact=body.contact,
            raised_by=raised_by,
            trusted=caller is not None,
        )
    except filing.Refused as refused:
        raise ApiProblem(refused.status, [ApiError(refused.path, refused.code, refused.message)]) from None
    return FastJSONResponse({"repair": repairs.view(case, _ctx(request).today())}, status_code=201)


@router.get("/v1/repairs/{repair_id}", summary="The state of a repair application (信用修复办理进度)")
async def get_repair(
    request: Request, repair_id: str, code: Annotated[str, Query(min_length=1, max_length=64)]
) -> Response:
    ctx = _ctx(request)
    async with ctx.engine.connect() as conn:
        case = await store.repair(conn, ctx.schema, repair_id)
    if case is None or case["subject_code"] != normalise_code(code):
        message = (
            "没有找到该信用修复申请，请核对编号和主体代码 (no repair application with this id for this subject code)"
        )
        raise ApiProblem(404, [ApiError("/path/repair_id", "not_found", message)])
    return FastJSONResponse({"repair": repairs.view(case, ctx.today())})


@router.get("/v1/repairs", summary="Repair applications to a department, soonest due first (信用修复办理)")
async def list_repairs(
    request: Request,
    caller: Supervisor,
    department: Annotated[str | None, Query(max_length=32)] = None,
    state: Annotated[Literal["open", "all"], Query(description="open: awaiting acceptance or a decision")] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    """A department sees the applications it must decide; county and auditor see all. Access-logged."""
    ctx = _ctx(request)
    department = department_scope(
        caller, department, "a department sees the repair applications to its own records only"
    )
    async with ctx.engine.connect() as conn:
        cases = await store.repairs_of(
            conn, ctx.schema, department=department, open_only=state == "open", limit=limit + 1
        )
    await _log(ctx, caller, "repairs", department or "*")
    today = ctx.today()
    return FastJSONResponse(
        {
            "as_of": today.isoformat(),
            "department": department,
            "repairs": [repairs.view(c, today) for c in cases[:limit]],
            "truncated": len(cases) > limit,
        }
    )


ClockState = Literal["pending", "at_risk", "overdue", "met", "late"]


@router.get(
    "/v1/deadlines",
    summary="The 7-working-day disclosure and 3-working-day withdrawal clocks per department (公示时限)",
)
async def get_deadlines(
    request: Request,
    caller: Supervisor,
    department: Annotated[str | None, Query(max_length=32)] = None,
    state: Annotated[ClockState | None, Query()] = None,
    since: Annotated[
        date | None, Query(description="published records decided from this day (default: 30 days ago)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    ctx = _ctx(request)
    department = department_scope(caller, department, "a department sees its own disclosure deadlines only")
    now = ctx.now()
    since = since or ctx.today() - timedelta(days=30)
    async with ctx.engine.connect() as conn:
        rows = await store.deadline_rows(conn, ctx.schema, department=department, since=since)
        taken_down = await store.withdrawal_rows(conn, ctx.schema, department=department, since=since)
    entries = [deadlines.clock_entry(row, now=now, calendar=ctx.calendar) for row in rows]
    gone = [withdrawals.clock_entry(row, now=now, calendar=ctx.calendar) for row in taken_down]
    await _log(ctx, caller, "deadlines", department or "*")
    names = {code: d.name for code, d in ctx.catalogue.departments.items()}
    chosen = [e for e in entries if state is None or e["state"] == state]
    chosen_gone = [e for e in gone if state is None or e["state"] == state]
    return FastJSONResponse(
        {
            "as_of": ctx.today().isoformat(),
            "since": since.isoformat(),
            "department": department,
            "summary": deadlines.summary(entries, names),
            "records": chosen[:limit],
            "truncated": len(chosen) > limit,
            # 行政处罚法 Art. 48: revoked or changed records off the portal within 3 working days of the decision
            "withdrawals": {
                "working_days": ctx.settings.service_levels.withdrawal_working_days,
                "summary": withdrawals.summary(gone, names),
                "records": chosen_gone[:limit],
                "truncated": len(chosen_gone) > limit,
            },
        }
    )


@router.get("/v1/feed", summary="Outcome feed: published / withdrawn / corrected, objections (结果订阅)")
async def get_feed(
    request: Request,
    caller: Supervisor,
    after: Annotated[str | None, Query(max_length=60, description="`next` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    ctx = _ctx(request)
    cursor = store.FeedCursor.parse(after) if after else None
    if after and cursor is None:
        raise _bad_query("/query/after", "after must be the `next` (or an event's `cursor`) of a previous page")
    async with ctx.engine.connect() as conn:
        rows = await store.feed_page(conn, ctx.schema, cursor, limit)
    await _log(ctx, caller, "feed", "*")
    items = [
        {
            "cursor": str(store.FeedCursor(int(r["txid"]), r["position"])),
            "id": r["event_id"],
            "type": r["type"],
            "subject": r["subject"],
            "time": r["time"].astimezone(SHANGHAI).isoformat(),
            "data": r["data"],
        }
        for r in rows
    ]
    next_cursor = items[-1]["cursor"] if items else str(cursor or store.FeedCursor(0, 0))
    return FastJSONResponse({"events": items, "next": next_cursor, "has_more": len(items) == limit})


@router.get("/v1/scorecard", summary="Deadlines met per department for a month (公示、撤下、异议、修复时限考核)")
async def get_scorecard(
    request: Request,
    caller: Supervisor,
    month: Annotated[str, Query(description="YYYY-MM: what fell due in this month (Asia/Shanghai)")],
    department: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """Disclosure deadlines, withdrawals of revoked or changed records, objection answers and repair decisions
    due in the month, per department: met on time, late, overdue or still pending. The publish part of the
    county's scorecard (000 L121)."""
    ctx = _ctx(request)
    chosen = month_of(month)
    department = department_scope(caller, department, "a department sees its own scorecard only")
    first, after = chosen.first, chosen.after
    async with ctx.engine.connect() as conn:
        shown = await store.rows_due_between(
            conn, ctx.schema, "disclosures", "due_date", department=department, first=first, after=after
        )
        answered = await store.rows_due_between(
            conn, ctx.schema, "objections", "due_date", department=department, first=first, after=after
        )
        decided = await store.rows_due_between(
            conn, ctx.schema, "repairs", "decide_due", department=department, first=first, after=after
        )
        taken_down = await store.rows_due_between(
            conn, ctx.schema, "withdrawals", "due_date", department=department, first=first, after=after
        )
    now, today = ctx.now(), ctx.today()
    parts = {
        "disclosures": scorecard.disclosures(shown, now=now, calendar=ctx.calendar),
        "objections": scorecard.objections(answered, today),
        "repairs": scorecard.repairs(decided, today),
        "withdrawals": scorecard.withdrawals(taken_down, now=now, calendar=ctx.calendar),
    }
    await _log(ctx, caller, "scorecard", department or "*")
    names = {code: d.name for code, d in ctx.catalogue.departments.items()}
    rows = scorecard.table(parts, names)
    return FastJSONResponse(
        {"month": chosen.label, "as_of": today.isoformat(), "part": "deadlines", "departments": rows}
    )


async def _log(ctx: PublishContext, caller: Principal, what: str, subject: str) -> None:
    await log_access(
        ctx.engine,
        schema=ctx.schema,
        topic=ctx.topic("audit.access"),
        service="publish",
        principal=caller,
        what=what,
        subject=subject,
        purpose=None,
        at=ctx.now(),
    )
