"""The public portal (信用公示门户, DOMAIN §9): server-rendered Chinese pages, no JavaScript.

I/O only, like ``api.py``: the pages read through the same public queries (:func:`api.find_published`,
``PublicReads.published``) and file objections through :func:`objections.file_objection`. Templates are
autoescaped, so nothing a visitor typed is ever echoed back as markup. The objection form is bounded in
size and rate-limited per client address (:class:`RateLimit`).
"""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.publish import filing, objections, repairs, store
from services.publish.api import find_published, is_code
from services.publish.context import PublishContext
from services.publish.filing import normalise_code
from services.publish.rules.withdrawal import notice

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


def _page(template: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = _TEMPLATES.get_template(template).render(**values)
    headers = {"Content-Security-Policy": "default-src 'self'; form-action 'self'", "X-Content-Type-Options": "nosniff"}
    return HTMLResponse(html, status_code=status, headers=headers)


def _unavailable() -> HTMLResponse:
    return _page("message.html", 503, title="暂不可用", message="公示查询暂不可用，请稍后重试。")


@router.get("/static/portal.css")
async def stylesheet() -> Response:
    return Response(_CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, q: Annotated[str | None, Query(max_length=100)] = None) -> HTMLResponse:
    """The search page; with ``q``, the published records found (newest decision first)."""
    text = (q or "").strip()
    items: list[dict[str, Any]] = []
    if text:
        try:
            rows = await find_published(_ctx(request), text, limit=50)
        except store.ReadsUnavailable:
            return _unavailable()
        items = [orjson.loads(body) for _, _, body in rows]
    return _page("home.html", q=text, searched=bool(text), items=items)


@router.get("/subjects/{code}", response_class=HTMLResponse)
async def subject(request: Request, code: str) -> HTMLResponse:
    """Everything published about one subject (by its whole credit code or ID number)."""
    if not is_code(code):
        return _page("message.html", 404, title="未找到", message="请输入完整的统一社会信用代码或身份证号码。")
    try:
        rows = await find_published(_ctx(request), code, limit=100)
    except store.ReadsUnavailable:
        return _unavailable()
    items = [orjson.loads(body) for _, _, body in rows]
    name = items[0]["subject"]["name"] if items else None
    return _page("subject.html", code=normalise_code(code), name=name, items=items)


@router.get("/records/{public_id}", response_class=HTMLResponse)
async def record(request: Request, public_id: str) -> HTMLResponse:
    reads = _ctx(request).reads
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
    return _page("record.html", item=item, titles=_field_titles(_ctx(request), item["record_type"]))


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
    async with _ctx(request).engine.connect() as conn:
        case = await store.objection(conn, objection_id)
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
        case = await store.repair(conn, repair_id)
    if case is None or case["subject_code"] != normalise_code(code):
        message = "没有找到该信用修复申请，请核对受理编号和统一社会信用代码（或身份证号码）。"
        return _page("case_lookup.html", 404, values={"id": repair_id, "code": code}, not_found=message)
    return _page("repair_case.html", case=repairs.view(case, ctx.today()))
