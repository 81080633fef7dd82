"""The public portal (信用公示门户, DOMAIN §9): server-rendered Chinese pages, no JavaScript.

I/O only, like ``api.py``: the pages read through the same public queries (:func:`api.find_published`,
``PublicReads.published``) and file objections through :func:`objections.file_objection`. Templates are
autoescaped, so nothing a visitor typed is ever echoed back as markup. The objection form is bounded in
size and rate-limited per client address (:class:`RateLimit`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlencode

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.common.identifiers import check_citizen_id
from services.publish import filing, objections, repairs, store
from services.publish.api import count_published, find_published, is_code, make_cursor, parse_cursor
from services.publish.context import PublishContext
from services.publish.filing import normalise_code
from services.publish.rules import LIST_RULES
from services.publish.rules.withdrawal import notice
from services.publish.store.public import COUNT_CAP

router = APIRouter(include_in_schema=False)
_HERE = Path(__file__).parent
_TEMPLATES = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEMPLATES.globals["linkable"] = is_code  # a whole code links to the subject page; a masked one does not
_CSS = (_HERE / "static" / "portal.css").read_bytes()
MAX_FORM_BYTES = 65_536  # a 4000-character reason, percent-encoded, is about 36 KiB
# Field → (label, minimum length, maximum length): the same bounds as ``api.ObjectionIn`` / ``api.RepairIn``.
_FIELDS = {
    "record_id": ("公示记录编号", 1, 200),
    "subject_code": ("统一社会信用代码或身份证号码", 1, 64),
    "reason": ("异议理由", 1, 4000),
    "contact": ("联系方式", 1, 200),
}
_REPAIR_FIELDS = {
    "record_id": ("公示记录编号", 1, 200),
    "subject_code": ("统一社会信用代码或身份证号码", 1, 64),
    "commitment": ("信用承诺", 10, 4000),
    "fulfilment": ("法定义务履行情况", 1, 4000),
    "contact": ("联系方式", 1, 200),
}


class RateLimit:
    """At most ``limit`` submissions per client address in any ``window`` seconds (in memory, per replica)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._seen: dict[str, deque[float]] = {}

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        if len(self._seen) > 10_000:  # forget idle clients rather than grow without bound
            self._seen = {k: v for k, v in self._seen.items() if v and v[-1] > now - self.window}
        seen = self._seen.setdefault(client, deque())
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        if len(seen) >= self.limit:
            return False
        seen.append(now)
        return True


def _ctx(request: Request) -> PublishContext:
    ctx: PublishContext = request.app.state.publish
    return ctx


def _limiter(request: Request) -> RateLimit:
    limiter: RateLimit | None = getattr(request.app.state, "portal_rate_limit", None)
    if limiter is None:
        settings = _ctx(request).settings
        limiter = RateLimit(settings.form_rate_limit, settings.form_rate_window_seconds)
        request.app.state.portal_rate_limit = limiter
    return limiter


def link_reports(reports_url: str) -> None:
    """Where the report buttons post and 报告核验 links to (the reports service, issue 16)."""
    _TEMPLATES.globals["reports_url"] = reports_url.rstrip("/")


def _page(template: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = _TEMPLATES.get_template(template).render(**values)
    reports = _TEMPLATES.globals.get("reports_url", "")
    headers = {
        "Content-Security-Policy": f"default-src 'self'; form-action 'self' {reports}".rstrip(),
        "X-Content-Type-Options": "nosniff",
    }
    return HTMLResponse(html, status_code=status, headers=headers)


def _unavailable() -> HTMLResponse:
    return _page("message.html", 503, title="暂不可用", message="公示查询暂不可用，请稍后重试。")


@router.get("/static/portal.css")
async def stylesheet() -> Response:
    return Response(_CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


PAGE_SIZE = 50
PUBLIC_LISTS = tuple(name for name, rule in LIST_RULES.items() if rule.public)
"""The list types the portal shows, each on its own page (/lists/<type>)."""


async def _paged(
    ctx: PublishContext, text: str, cursor: str | None, *, record_types: Sequence[str] | None = None
) -> tuple[list[dict[str, Any]], int, str | None]:
    """One page of the search (newest decision first), the true total (capped) and the next page's cursor."""
    before = parse_cursor(cursor) if cursor else None
    rows = await find_published(ctx, text, before=before, record_types=record_types, limit=PAGE_SIZE + 1)
    total = await count_published(ctx, text, record_types=record_types)
    page = rows[:PAGE_SIZE]
    following = make_cursor(page[-1][0], page[-1][1]) if len(rows) > PAGE_SIZE else None
    return [orjson.loads(body) for _, _, body in page], total, following


def _total(total: int) -> str:
    """The count as the page says it: exact, or "more than N" past the cap."""
    return f"超过 {COUNT_CAP} 条" if total > COUNT_CAP else f"共 {total} 条"


def _next_link(path: str, cursor: str | None, **params: str) -> str | None:
    if cursor is None:
        return None
    return path + "?" + urlencode({**{k: v for k, v in params.items() if v}, "cursor": cursor})


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request,
    q: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    """The search page; with ``q``, the published records found (newest decision first), a page at a time."""
    text = (q or "").strip()
    ctx = _ctx(request)

    async def compute() -> Response:
        items: list[dict[str, Any]] = []
        total, following = 0, None
        if text:
            try:
                items, total, following = await _paged(ctx, text, cursor)
            except store.ReadsUnavailable:
                return _unavailable()
        return _page(
            "home.html",
            q=text,
            searched=bool(text),
            items=items,
            total=_total(total),
            next_page=_next_link("/", following, q=text),
            continued=bool(cursor),
            lists=_list_titles(ctx),
        )

    if not text:  # the bare search form reads nothing
        return await compute()
    return await ctx.public_cache.serve(request, ctx.reads, "home", (text, cursor), compute)


@router.get("/subjects/{code}", response_class=HTMLResponse)
async def subject(request: Request, code: str, cursor: Annotated[str | None, Query(max_length=300)] = None) -> Response:
    """Everything published about one subject (by its whole credit code or ID number): the lists it is on
    now, then every published record, a page at a time."""
    if not is_code(code):
        return _page("message.html", 404, title="未找到", message="请输入完整的统一社会信用代码或身份证号码。")
    ctx = _ctx(request)

    async def compute() -> Response:
        try:
            on_lists = await find_published(ctx, code, record_types=PUBLIC_LISTS, limit=100)
            items, total, following = await _paged(ctx, code, cursor)
        except store.ReadsUnavailable:
            return _unavailable()
        # Entries only: a commitment's published 履行 / 违诺 record is not a list the subject is on.
        listed = [
            item for _, _, body in on_lists if (item := orjson.loads(body)).get("listing", {}).get("kind") == "entry"
        ]
        name = (items or listed)[0]["subject"]["name"] if items or listed else None
        return _page(
            "subject.html",
            code=normalise_code(code),
            name=name,
            items=items,
            listed=listed,
            total=_total(total),
            count=total,
            next_page=_next_link(f"/subjects/{quote(normalise_code(code))}", following),
            continued=bool(cursor),
            offers_report=not check_citizen_id(normalise_code(code)).ok,  # a person's report: at the counter
        )

    return await ctx.public_cache.serve(request, ctx.reads, "subject", (code, cursor), compute)


@router.get("/lists", response_class=HTMLResponse)
async def lists_index(request: Request) -> Response:
    """The published lists (名单公示), each with how many entries are in force."""
    ctx = _ctx(request)

    async def compute() -> Response:
        try:
            counts = {name: await count_published(ctx, "", record_types=[name]) for name in PUBLIC_LISTS}
        except store.ReadsUnavailable:
            return _unavailable()
        entries = [{"name": n, "title": t, "total": _total(counts[n])} for n, t in _list_titles(ctx)]
        return _page("lists.html", entries=entries)

    return await ctx.public_cache.serve(request, ctx.reads, "lists", "", compute)


@router.get("/lists/{record_type}", response_class=HTMLResponse)
async def list_page(
    request: Request, record_type: str, cursor: Annotated[str | None, Query(max_length=300)] = None
) -> Response:
    """One list's entries in force, newest decision first, a page at a time."""
    ctx = _ctx(request)
    titles = dict(_list_titles(ctx))
    if record_type not in titles:
        return _page("message.html", 404, title="未找到", message="没有这个公示名单。")

    async def compute() -> Response:
        try:
            items, total, following = await _paged(ctx, "", cursor, record_types=[record_type])
        except store.ReadsUnavailable:
            return _unavailable()
        return _page(
            "list.html",
            record_type=record_type,
            title=titles[record_type],
            items=items,
            total=_total(total),
            next_page=_next_link(f"/lists/{record_type}", following),
            continued=bool(cursor),
        )

    return await ctx.public_cache.serve(request, ctx.reads, "list", (record_type, cursor), compute)


def _list_titles(ctx: PublishContext) -> list[tuple[str, str]]:
    """(record type, title) of each published list, in the order of the rules."""
    kinds = ctx.catalogue.record_types
    return [(name, kinds[name].title) for name in PUBLIC_LISTS if name in kinds]


@router.get("/records/{public_id}", response_class=HTMLResponse)
async def record(request: Request, public_id: str) -> Response:
    ctx = _ctx(request)
    reads = ctx.reads

    async def compute() -> Response:
        try:
            body = await reads.published(public_id)
            gone = await reads.withdrawn(public_id) if body is None else None
        except store.ReadsUnavailable:
            return _unavailable()
        shown = notice(orjson.loads(gone)) if gone is not None else None
        if shown is not None:  # an old link to a revoked record: withdrawn, and why (行政处罚法 Art. 48)
            return _page("withdrawn.html", 410, item=shown)
        if body is None:
            message = "没有公示中的这条记录（可能从未公示，或公示期满、已撤销而撤下）。"
            return _page("message.html", 404, title="未找到该记录", message=message)
        item = orjson.loads(body)
        return _page("record.html", item=item, titles=_field_titles(ctx, item["record_type"]))

    return await ctx.public_cache.serve(request, reads, "record_page", public_id, compute)


def _field_titles(ctx: PublishContext, record_type: str) -> dict[str, str]:
    """Field → its schema title (行政处罚决定书文号 …), over every version of the record type."""
    kind = ctx.catalogue.record_types.get(record_type)
    titles: dict[str, str] = {}
    for version in sorted(kind.versions.values(), key=lambda v: v.version) if kind else ():
        for name, spec in version.schema.get("properties", {}).items():
            if isinstance(spec, dict) and isinstance(spec.get("title"), str):
                titles[name] = spec["title"]
    return titles


def _shown(value: Any) -> str:
    """A public data value as text: lists joined, nested objects as "key: value" pairs."""
    if isinstance(value, list):
        return "、".join(_shown(v) for v in value)
    if isinstance(value, dict):
        return "；".join(f"{k}: {_shown(v)}" for k, v in value.items())
    return "—" if value is None else str(value)


_TEMPLATES.filters["shown"] = _shown


@router.get("/objections/new", response_class=HTMLResponse)
async def objection_form(
    record: Annotated[str | None, Query(max_length=200)] = None,
    code: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    return _page("objection_form.html", values={"record_id": record or "", "subject_code": code or ""}, errors={})


async def _read_form(request: Request, fields: dict[str, tuple[str, int, int]]) -> dict[str, str] | HTMLResponse:
    """The posted form's values, or the page that refuses it (too frequent, too large, unreadable)."""
    client = request.client.host if request.client else "unknown"
    if not _limiter(request).allow(client):
        message = "提交过于频繁，请稍后再试。"
        return _page("message.html", 429, title="请稍后再试", message=message)
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_FORM_BYTES:
            return _page("message.html", 413, title="内容过长", message="提交的内容过长，请精简后重新提交。")
    try:
        form = parse_qs(raw.decode("utf-8", errors="replace"), max_num_fields=len(fields) + 2)
    except ValueError:  # more fields than the form has
        return _page("message.html", 400, title="无法受理", message="提交的内容无法识别，请通过申请页面提交。")
    return {name: (form.get(name) or [""])[0].strip() for name in fields}


@router.post("/objections/new", response_class=HTMLResponse)
async def objection_submit(request: Request) -> Response:
    """The form posts here; the case is filed by the same logic as ``POST /v1/objections``."""
    values = await _read_form(request, _FIELDS)
    if isinstance(values, HTMLResponse):
        return values
    errors = _validate(values, _FIELDS)
    if errors:
        return _page("objection_form.html", 422, values=values, errors=errors)
    try:
        case = await objections.file_objection(
            _ctx(request),
            record_id=values["record_id"],
            subject_code=normalise_code(values["subject_code"]),
            reason=values["reason"],
            contact=values["contact"],
            raised_by="subject",
            trusted=False,
        )
    except filing.Refused as refused:
        return _page("objection_form.html", refused.status, values=values, errors=_refusal(refused, _FIELDS))
    target = f"/objections/{quote(case['id'])}?code={quote(case['subject_code'])}"
    return RedirectResponse(target, status_code=303)


@router.get("/repairs/new", response_class=HTMLResponse)
async def repair_form(
    record: Annotated[str | None, Query(max_length=200)] = None,
    code: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    return _page("repair_form.html", values={"record_id": record or "", "subject_code": code or ""}, errors={})


@router.post("/repairs/new", response_class=HTMLResponse)
async def repair_submit(request: Request) -> Response:
    """The repair form posts here; the application is filed by the same logic as ``POST /v1/repairs``."""
    values = await _read_form(request, _REPAIR_FIELDS)
    if isinstance(values, HTMLResponse):
        return values
    errors = _validate(values, _REPAIR_FIELDS)
    if errors:
        return _page("repair_form.html", 422, values=values, errors=errors)
    try:
        case = await repairs.file_repair(
            _ctx(request),
            record_id=values["record_id"],
            subject_code=normalise_code(values["subject_code"]),
            commitment=values["commitment"],
            fulfilment=values["fulfilment"],
            contact=values["contact"],
            raised_by="subject",
            trusted=False,
        )
    except filing.Refused as refused:
        errors = _refusal(refused, _REPAIR_FIELDS)
        return _page("repair_form.html", refused.status, values=values, errors=errors)
    target = f"/repairs/{quote(case['id'])}?code={quote(case['subject_code'])}"
    return RedirectResponse(target, status_code=303)


def _refusal(refused: filing.Refused, fields: dict[str, tuple[str, int, int]]) -> dict[str, str]:
    field = refused.path.strip("/") if refused.path.strip("/") in fields else "record_id"
    return {field: refused.message.split(" (", 1)[0]}  # the Chinese part


def _validate(values: dict[str, str], fields: dict[str, tuple[str, int, int]]) -> dict[str, str]:
    errors = {}
    for name, (label, shortest, longest) in fields.items():
        if not values[name]:
            errors[name] = f"请填写{label}。"
        elif len(values[name]) < shortest:
            errors[name] = f"{label}至少 {shortest} 个字符。"
        elif len(values[name]) > longest:
            errors[name] = f"{label}不能超过 {longest} 个字符。"
    return errors


@router.get("/cases", response_class=HTMLResponse)
async def case_lookup(
    request: Request,
    id: Annotated[str | None, Query(max_length=64)] = None,
    code: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """The case-status search form; with both values, the case itself (objection or repair)."""
    if id and code and id.strip().upper().startswith("REP-"):
        return await repair_page(request, id.strip(), code)
    if id and code:
        return await case_page(request, id.strip(), code)
    return _page("case_lookup.html", values={"id": id or "", "code": code or ""})


@router.get("/objections/{objection_id}", response_class=HTMLResponse)
async def case_page(
    request: Request, objection_id: str, code: Annotated[str, Query(max_length=64)] = ""
) -> HTMLResponse:
    """A case's state, shown only to whoever knows both the case number and the subject's code."""
    ctx = _ctx(request)
    async with ctx.engine.connect() as conn:
        case = await store.objection(conn, ctx.schema, objection_id)
    if case is None or case["subject_code"] != normalise_code(code):
        message = "没有找到该异议，请核对受理编号和统一社会信用代码（或身份证号码）。"
        return _page("case_lookup.html", 404, values={"id": objection_id, "code": code}, not_found=message)
    return _page("case.html", case=objections.view(case))


@router.get("/repairs/{repair_id}", response_class=HTMLResponse)
async def repair_page(
    request: Request, repair_id: str, code: Annotated[str, Query(max_length=64)] = ""
) -> HTMLResponse:
    """A repair application's state, shown only to whoever knows both its number and the subject's code."""
    ctx = _ctx(request)
    async with ctx.engine.connect() as conn:
        case = await store.repair(conn, ctx.schema, repair_id)
    if case is None or case["subject_code"] != normalise_code(code):
        message = "没有找到该信用修复申请，请核对受理编号和统一社会信用代码（或身份证号码）。"
        return _page("case_lookup.html", 404, values={"id": repair_id, "code": code}, not_found=message)
    return _page("repair_case.html", case=repairs.view(case, ctx.today()))
