"""The workbench pages (I/O only): sign-in, 待办, item pages with their answer forms, report by form and by
spreadsheet, preview, the county's scorecard and the receipt trail.

Every POST carries the session's CSRF token (the sign-in form a double-submit cookie); every refusal is
shown in Chinese and written to the action trail. Templates are autoescaped.
"""

from __future__ import annotations

import hmac
import io
import logging
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from openpyxl import Workbook
from sqlalchemy import text
from starlette.datastructures import FormData, UploadFile

from services.common.catalogue import RecordType
from services.common.vocabulary import RecordTypeName
from services.workbench import accounts, charts, messages, sheets
from services.workbench.accounts import ROLE_TITLES, Session, Staff, StaffRole
from services.workbench.client import Services, ServiceUnavailable
from services.workbench.conditions import conditions_of
from services.workbench.context import WorkbenchContext
from services.workbench.imports import submit_rows

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
_HERE = Path(__file__).parent
_TEMPLATES = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEMPLATES.globals["role_titles"] = ROLE_TITLES
_CSS = (_HERE / "static" / "workbench.css").read_bytes()
SESSION_COOKIE = "wb_session"
LOGIN_COOKIE = "wb_login_csrf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEAD_ONLY_DECISIONS = frozenset({"准予修复", "不予修复"})
ANSWER_TYPES = {
    "objection": RecordTypeName.OBJECTION_VERIFICATION,
    "repair": RecordTypeName.REPAIR_DECISION,
    "case": RecordTypeName.SANCTION_FEEDBACK,
}


class NeedSignIn(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Refused(Exception):
    """A request the workbench refuses: shown as a Chinese page with `status`, logged on the trail."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _ctx(request: Request) -> WorkbenchContext:
    ctx: WorkbenchContext = request.app.state.workbench
    return ctx


def render(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    body = _TEMPLATES.get_template(name).render(**values)
    return HTMLResponse(
        body,
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
        },
    )


def _secure(request: Request) -> bool:
    """Cookies are Secure when the request came over TLS (uvicorn's proxy headers set the scheme)."""
    return request.url.scheme == "https"


async def session(request: Request) -> Session:
    ctx = _ctx(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise NeedSignIn("none")
    found = await accounts.session_of(ctx.engine, cookie, now=ctx.now(), session_minutes=ctx.settings.session_minutes)
    if found is None:
        await accounts.record_action(
            ctx.engine,
            at=ctx.now(),
            username="-",
            department=None,
            action="session",
            outcome="expired",
            detail={"path": request.url.path},
        )
        raise NeedSignIn("expired")
    return found


async def checked_form(request: Request, current: Session) -> FormData:
    """The posted form, after its CSRF token matched the session's (403 and a trail line otherwise)."""
    form = await request.form(max_part_size=256 * 1024)
    token = form.get("csrf")
    if not isinstance(token, str) or not hmac.compare_digest(token, current.csrf):
        ctx = _ctx(request)
        await accounts.record_action(
            ctx.engine,
            at=ctx.now(),
            username=current.staff.username,
            department=current.staff.department,
            action="csrf",
            outcome="refused",
            detail={"path": request.url.path},
        )
        raise Refused(403, "表单校验码缺失或已失效（可能是页面停留过久或来自其他网站），请返回刷新页面后重新提交。")
    return form


def _page(current: Session, **values: Any) -> dict[str, Any]:
    return {"staff": current.staff, "csrf": current.csrf, **values}


async def on_need_sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NeedSignIn)
    target = "/login" + ("?expired=1" if exc.reason == "expired" else "")
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


async def on_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return render("message.html", exc.status, title="无法办理", message=exc.message, staff=None)


async def on_unavailable(request: Request, exc: Exception) -> Response:
    return render("message.html", 503, title="服务暂时不可用", message=str(exc), staff=None)


# -- sign-in ---------------------------------------------------------------------------------------------


@router.get("/login")
async def login_page(request: Request, expired: str | None = None) -> Response:
    token = secrets.token_urlsafe(32)
    notice = "会话已过期，请重新登录。" if expired else None
    response = render("login.html", csrf=token, notice=notice, error=None, username="", staff=None)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), path="/login")
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    ctx = _ctx(request)
    form = await request.form(max_part_size=4096)
    username, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    token, cookie = form.get("csrf"), request.cookies.get(LOGIN_COOKIE)
    if not (isinstance(token, str) and cookie and hmac.compare_digest(token, cookie)):
        await accounts.record_action(
            ctx.engine,
            at=ctx.now(),
            username=username or "-",
            department=None,
            action="sign_in",
            outcome="csrf_refused",
        )
        raise Refused(403, "登录表单校验码缺失或已失效，请刷新登录页后重试。")
    try:
        value, started = await accounts.sign_in(
            ctx.engine,
            username,
            password,
            now=ctx.now(),
            session_minutes=ctx.settings.session_minutes,
            lockout_attempts=ctx.settings.lockout_attempts,
            lockout_minutes=ctx.settings.lockout_minutes,
        )
    except accounts.SignInRefused as refused:
        await accounts.record_action(
            ctx.engine,
            at=ctx.now(),
            username=username or "-",
            department=None,
            action="sign_in",
            outcome=refused.reason,
        )
        log.info("sign-in refused", extra={"user": username, "reason": refused.reason})
        return render("login.html", 401, csrf=token, notice=None, error=refused.message, username=username, staff=None)
    await accounts.record_action(
        ctx.engine,
        at=ctx.now(),
        username=username,
        department=started.staff.department,
        action="sign_in",
        outcome="ok",
    )
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, value, httponly=True, samesite="strict", secure=_secure(request), path="/")
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    current = await session(request)
    await checked_form(request, current)
    await accounts.sign_out(_ctx(request).engine, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/static/conditions/{type_name}.v{version}.css")
async def conditions_css(request: Request, type_name: str, version: int) -> Response:
    """Public like the catalogue it is generated from (`GET /v1/catalogue`)."""
    record_type = _ctx(request).catalogue.record_types.get(type_name)
    found = record_type.versions.get(version) if record_type is not None else None
    if record_type is None or found is None:
        return Response("/* no such record type or version */", status_code=404, media_type="text/css")
    css = conditions_of(found.schema, sheets.columns_of(record_type, found)).css
    return Response(css, media_type="text/css; charset=utf-8", headers={"Cache-Control": "max-age=3600"})


@router.get("/static/workbench.css")
async def css() -> Response:
    return Response(_CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


# -- 待办 -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Due:
    due: str  # YYYY-MM-DD (sorts as text)
    kind: str
    title: str
    detail: str
    link: str
    overdue: bool


CASE_PAGE = 1000  # sanctions' largest page


async def _cases_awaiting_feedback(services: Services, staff: Staff, params: dict[str, str]) -> list[dict[str, Any]]:
    """Every case whose instruction to the department awaits its feedback, page by page: a court's upload
    of thousands of defaulters must not leave the 1,001st off the 待办."""
    found: list[dict[str, Any]] = []
    while True:
        page = await services.json(
            "sanctions",
            "/v1/cases",
            staff,
            {**params, "awaiting_feedback": "true", "limit": str(CASE_PAGE), "offset": str(len(found))},
        )
        found += page["cases"]
        if len(page["cases"]) < CASE_PAGE:
            return found


@router.get("/")
async def todo(request: Request) -> Response:
    current = await session(request)
    ctx = _ctx(request)
    staff = current.staff
    if staff.department is None:
        return RedirectResponse("/scorecard", status_code=303)
    params = {"department": staff.department}
    services = ctx.services
    items: list[Due] = []
    # Publish answers the soonest due first, up to its largest page; more than that is said, not hidden.
    listed = {**params, "limit": "1000"}
    more: list[str] = []
    objections = await services.json("publish", "/v1/objections", staff, listed)
    if objections.get("truncated"):
        more.append("异议核实")
    for o in objections["objections"]:
        items.append(
            Due(
                o["due"],
                "异议核实",
                f"异议 {o['objection_id']}",
                f"记录 {o['record_id']}：{o['reason'][:40]}",
                f"/items/objection/{o['objection_id']}",
                bool(o.get("overdue")),
            )
        )
    repairs = await services.json("publish", "/v1/repairs", staff, listed)
    if repairs.get("truncated"):
        more.append("信用修复")
    for r in repairs["repairs"]:
        step = "受理" if r["state"] == "filed" else "决定"
        due = r["accept_due"] if step == "受理" else r["decide_due"]
        items.append(
            Due(
                due,
                f"信用修复{step}",
                f"修复申请 {r['repair_id']}",
                f"记录 {r['record_id']}（{r['state_label']}）",
                f"/items/repair/{r['repair_id']}",
                bool(r.get("overdue")),
            )
        )
    for c in await _cases_awaiting_feedback(services, staff, params):
        mine = [i for i in c["instructions"] if i["department"] == staff.department]
        if mine and mine[0]["feedback_state"] != "answered":
            items.append(
                Due(
                    str(c.get("since") or "")[:10],
                    "联合惩戒反馈",
                    f"案件 {c['case_id']}",
                    f"{c['subject_name']}：待反馈措施 {len(mine[0]['unanswered_measures'])} 项",
                    f"/items/case/{c['case_id']}",
                    False,
                )
            )
    for state in ("overdue", "at_risk"):
        clock = await services.json("publish", "/v1/deadlines", staff, {**listed, "state": state})
        if clock.get("truncated"):
            more.append("公示时限" + ("已超期" if state == "overdue" else "临近"))
        for d in clock["records"]:
            items.append(
                Due(
                    str(d.get("due_date") or d.get("due") or ""),
                    "公示时限" + ("已超期" if state == "overdue" else "临近"),
                    f"记录 {d.get('record_id')}",
                    "双公示记录须在 7 个工作日内公示",
                    "/receipts",
                    state == "overdue",
                )
            )
    async with ctx.engine.connect() as conn:
        rejected = (
            await conn.execute(
                text(
                    "SELECT at, record_id, detail FROM workbench.actions WHERE department = :d "
                    "AND outcome = 'rejected' AND record_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
                    "workbench.actions a WHERE a.department = :d AND a.record_id = actions.record_id "
                    "AND a.outcome = 'accepted') ORDER BY at DESC LIMIT 50"
                ),
                {"d": staff.department},
            )
        ).all()
    for row in rejected:
        items.append(
            Due(
                row.at.date().isoformat(),
                "退回待改",
                f"记录 {row.record_id}",
                str(row.detail.get("summary", ""))[:80],
                f"/report/{row.detail.get('type', '')}?id={quote(row.record_id)}",
                False,
            )
        )
    items.sort(key=lambda i: (i.due or "9999", i.kind))
    return render("todo.html", **_page(current, items=items, more=more, today=ctx.today().isoformat()))


# -- item pages -------------------------------------------------------------------------------------------


async def _own_objection(request: Request, staff: Staff, objection_id: str) -> dict[str, Any]:
    """The objection if it is to this department's records; refused (403, logged) otherwise."""
    ctx = _ctx(request)
    body = await ctx.services.json(
        "publish", "/v1/objections", staff, {"department": staff.department or "", "state": "all", "limit": "1000"}
    )
    for o in body["objections"]:
        if o["objection_id"] == objection_id:
            return dict(o)
    await accounts.record_action(
        ctx.engine,
        at=ctx.now(),
        username=staff.username,
        department=staff.department,
        action="answer_objection",
        outcome="forbidden",
        detail={"objection_id": objection_id},
    )
    raise Refused(403, f"异议 {objection_id} 不是针对本部门记录的异议，不能由本部门答复（已记录）。")


async def _own_repair(request: Request, staff: Staff, repair_id: str) -> dict[str, Any]:
    ctx = _ctx(request)
    body = await ctx.services.json(
        "publish", "/v1/repairs", staff, {"department": staff.department or "", "state": "all", "limit": "1000"}
    )
    for r in body["repairs"]:
        if r["repair_id"] == repair_id:
            return dict(r)
    await accounts.record_action(
        ctx.engine,
        at=ctx.now(),
        username=staff.username,
        department=staff.department,
        action="decide_repair",
        outcome="forbidden",
        detail={"repair_id": repair_id},
    )
    raise Refused(403, f"修复申请 {repair_id} 不由本部门办理（已记录）。")


def _kind_label(kind: Any) -> str | None:
    return next((label for label, value in sheets.SUBJECT_KINDS.items() if value == kind), None)


def _target_id(public_id: str, department: str | None) -> str:
    prefix = f"{department}."
    return public_id[len(prefix) :] if public_id.startswith(prefix) else public_id


@router.get("/items/{kind}/{item_id}")
async def item(request: Request, kind: str, item_id: str) -> Response:
    current = await session(request)
    staff = current.staff
    ctx = _ctx(request)
    if staff.department is None or kind not in ANSWER_TYPES:
        raise Refused(404, "没有这个待办事项。")
    today = ctx.today().isoformat()
    context: dict[str, Any]
    prefill: dict[str, Any]
    if kind == "objection":
        case = await _own_objection(request, staff, item_id)
        target = _target_id(case["record_id"], staff.department)
        prefill = {"objection_id": item_id, "target_record_id": target, "decision_date": today}
        context = {"heading": f"异议 {item_id}", "case": case}
    elif kind == "repair":
        case = await _own_repair(request, staff, item_id)
        target = _target_id(case["record_id"], staff.department)
        prefill = {"repair_id": item_id, "target_record_id": target, "decision_date": today}
        context = {"heading": f"信用修复申请 {item_id}", "case": case}
    else:
        body = await ctx.services.json("sanctions", f"/v1/cases/{quote(item_id)}", staff)
        case = body.get("case", body)
        prefill = {"case_id": item_id, "decision_date": today}
        # The form answers one measure of this department's instruction: the next one not yet answered.
        mine = [i for i in case.get("instructions", ()) if i.get("department") == staff.department]
        if mine:
            prefill["instruction_id"] = mine[0]["instruction_id"]
            prefill["measure_id"] = next(iter(mine[0].get("unanswered_measures") or ()), None)
        context = {"heading": f"联合惩戒案件 {item_id}", "case": case}
        target = None
    record = None
    if target is not None:
        response = await ctx.services.call("publish", "GET", f"/v1/disclosures/{staff.department}.{target}", staff)
        record = response.json() if response.status_code == 200 else None
        subject = (record or {}).get("subject") or {}
        prefill |= {"subject.code": case["subject_code"], "subject.name": subject.get("name")}
        prefill["subject.kind"] = _kind_label(subject.get("kind"))
    else:
        prefill |= {"subject.code": case.get("code"), "subject.name": case.get("subject_name")}
        prefill["subject.kind"] = _kind_label(case.get("subject_kind"))
    record_type = ctx.catalogue.record_types[ANSWER_TYPES[kind]]
    form = _form_model(ctx, record_type, prefill, staff)
    return render("item.html", **_page(current, record=record, form=form, **context))


# -- report by form ---------------------------------------------------------------------------------------


@dataclass
class FormField:
    code: str
    title: str
    required: bool
    kind: str
    choices: tuple[str, ...]
    value: str
    errors: list[str]
    long: bool
    conditional: bool  # hidden by the form's stylesheet until its condition holds


@dataclass
class FormModel:
    record_type: RecordType
    version: int
    fields: list[FormField]
    general_errors: list[str]

    @property
    def conditions_css(self) -> str:
        return f"/static/conditions/{self.record_type.name}.v{self.version}.css"


def _form_model(
    ctx: WorkbenchContext,
    record_type: RecordType,
    values: dict[str, Any],
    staff: Staff,
    problems: list[sheets.CellProblem] | None = None,
) -> FormModel:
    version = ctx.version_in_force(record_type)
    cols = sheets.columns_of(record_type, version)
    props = version.schema.get("properties", {})
    values = dict(values)
    values.setdefault(sheets.ID_COLUMN, f"{staff.department}-WB-{ctx.today():%Y%m%d}-{uuid.uuid4().hex[:8].upper()}")
    by_column: dict[str, list[str]] = {}
    general: list[str] = []
    for p in problems or []:
        if p.column:
            by_column.setdefault(p.column, []).append(p.message)
        else:
            general.append(p.message)
    hidden = conditions_of(version.schema, cols).hidden
    fields = [
        FormField(
            c.code,
            c.title,
            c.required,
            c.kind,
            c.choices,
            str(values.get(c.code) or ""),
            by_column.get(c.code, []),
            c.kind == "json" or int(props.get(c.code, {}).get("maxLength", 0)) > 200,
            # A field already filled in or in error stays in sight whatever is chosen.
            c.code in hidden and not values.get(c.code) and c.code not in by_column,
        )
        for c in cols
    ]
    return FormModel(record_type, version.version, fields, general)


def _reportable(ctx: WorkbenchContext, staff: Staff) -> list[RecordType]:
    return sorted(
        (rt for rt in ctx.catalogue.record_types.values() if staff.department in rt.departments),
        key=lambda rt: rt.name,
    )


def _record_type(ctx: WorkbenchContext, staff: Staff, name: str) -> RecordType:
    record_type = ctx.catalogue.record_types.get(name)
    if record_type is None or staff.department not in record_type.departments:
        raise Refused(404 if record_type is None else 403, f"本部门的目录中没有记录类型“{name}”。")
    return record_type


@router.get("/report")
async def report_index(request: Request) -> Response:
    current = await session(request)
    ctx = _ctx(request)
    if current.staff.department is None:
        raise Refused(403, "县信用办账号只能查看，不能报送记录。")
    return render(
        "report_index.html", **_page(current, types=_reportable(ctx, current.staff), max_rows=ctx.settings.max_rows)
    )


@router.get("/report/{type_name}")
async def report_form(request: Request, type_name: str) -> Response:
    current = await session(request)
    ctx = _ctx(request)
    record_type = _record_type(ctx, current.staff, type_name)
    prefill = {k: v for k, v in request.query_params.items()}
    return render("report_form.html", **_page(current, form=_form_model(ctx, record_type, prefill, current.staff)))


@router.post("/report/{type_name}")
async def report_submit(request: Request, type_name: str) -> Response:
    current = await session(request)
    form = await checked_form(request, current)
    ctx = _ctx(request)
    staff = current.staff
    record_type = _record_type(ctx, staff, type_name)
    version = ctx.version_in_force(record_type)
    cols = sheets.columns_of(record_type, version)
    raw = {
        c.code: "、".join(str(v) for v in form.getlist(c.code)) if c.kind == "list" else str(form.get(c.code, ""))
        for c in cols
    }
    # A browser form's text: spaces around a value are a typing slip here, not a sheet's hidden cell.
    values = [raw[c.code].strip() or None for c in cols]
    row = sheets.read_values(values, cols, record_type, version)
    action = str(form.get("action", "submit"))
    if row.record is None:
        model = _form_model(ctx, record_type, raw, staff, row.problems)
        return render("report_form.html", 422, **_page(current, form=model))
    record = row.record
    await _guard_answer(request, staff, record)
    if action == "preview":
        response = await ctx.services.call("ingest", "POST", "/v1/records:preview", staff, json=record)
        preview = response.json()
        problems = messages.cell_problems(
            preview.get("validation", {}).get("errors", preview.get("errors", [])), row, record_type
        )
        model = _form_model(ctx, record_type, raw, staff, problems)
        return render("report_form.html", **_page(current, form=model, preview=preview))
    response = await ctx.services.call("ingest", "POST", "/v1/records", staff, json=record)
    body = response.json()
    if response.status_code in (200, 202):
        receipt = body["receipt"]
        await accounts.record_action(
            ctx.engine,
            at=ctx.now(),
            username=staff.username,
            department=staff.department,
            action=f"report:{record_type.name}",
            outcome="accepted",
            record_id=record["id"],
            receipt=receipt,
            detail={"type": record_type.name, "replayed": response.status_code == 200},
        )
        return render("receipt.html", **_page(current, receipt=receipt, record=record, record_type=record_type))
    problems = messages.cell_problems(body.get("errors", []), row, record_type)
    await accounts.record_action(
        ctx.engine,
        at=ctx.now(),
        username=staff.username,
        department=staff.department,
        action=f"report:{record_type.name}",
        outcome="rejected",
        record_id=record["id"],
        detail={"type": record_type.name, "summary": "；".join(p.message for p in problems)[:500]},
    )
    model = _form_model(ctx, record_type, raw, staff, problems)
    return render("report_form.html", 422, **_page(current, form=model))


async def _guard_answer(request: Request, staff: Staff, record: dict[str, Any]) -> None:
    """An answer may only answer this department's own case; a repair's final decision is the head's."""
    data = record.get("data", {})
    if record["type"] == RecordTypeName.OBJECTION_VERIFICATION and isinstance(data.get("objection_id"), str):
        await _own_objection(request, staff, data["objection_id"])
    if record["type"] == RecordTypeName.REPAIR_DECISION:
        if isinstance(data.get("repair_id"), str):
            await _own_repair(request, staff, data["repair_id"])
        if data.get("decision") in HEAD_ONLY_DECISIONS and staff.role is not StaffRole.HEAD:
            ctx = _ctx(request)
            await accounts.record_action(
                ctx.engine,
                at=ctx.now(),
                username=staff.username,
                department=staff.department,
                action="decide_repair",
                outcome="forbidden",
                detail={"decision": data.get("decision")},
            )
            raise Refused(403, f"“{data.get('decision')}”须由部门负责人作出，经办人只能受理、不予受理或延长办理期限。")


# -- report by spreadsheet --------------------------------------------------------------------------------


@router.get("/sheets/{type_name}.xlsx")
async def sheet_template(request: Request, type_name: str) -> Response:
    current = await session(request)
    ctx = _ctx(request)
    record_type = _record_type(ctx, current.staff, type_name)
    version = ctx.version_in_force(record_type)
    content = sheets.template(record_type, version, ctx.example(record_type, version.version))
    filename = quote(f"{record_type.title}-报送模板-v{version.version}.xlsx")
    return Response(
        content, media_type=XLSX, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"}
    )


@router.post("/sheets/upload")
async def sheet_upload(request: Request) -> Response:
    current = await session(request)
    ctx = _ctx(request)
    staff = current.staff
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > ctx.settings.max_upload_bytes + 65_536:
        await accounts.record_action(
            ctx.engine,
            at=ctx.now(),
            username=staff.username,
            department=staff.department,
            action="upload",
            outcome="too_large",
            detail={"bytes": int(declared)},
        )
        limit = ctx.settings.max_upload_bytes // (1024 * 1024)
        raise Refused(413, f"文件过大（{int(declared) / 1024 / 1024:.1f} MB），最大 {limit} MB。请拆分后分批上传。")
    form = await checked_form(request, current)
    try:
        upload = form.get("file")
        record_type = _record_type(ctx, staff, str(form.get("type", "")))
        if not isinstance(upload, UploadFile):
            raise Refused(422, "请选择要上传的文件。")
        content = await upload.read(ctx.settings.max_upload_bytes + 1)
        filename = upload.filename or "upload"
    finally:
        await form.close()  # the spooled temporary file of the upload
    try:
        if len(content) > ctx.settings.max_upload_bytes:
            raise sheets.SheetRefused(
                f"文件超过 {ctx.settings.max_upload_bytes // (1024 * 1024)} MB，请拆分后上传。", status=413
            )
        outcome, upload_id = await import_sheet(ctx, staff, record_type, content, filename)
    except sheets.SheetRefused as refused:
        await accounts.record_action(
            ctx.engine,
            at=ctx.now(),
            username=staff.username,
            department=staff.department,
            action="upload",
            outcome="refused",
            detail={"file": filename, "reason": refused.message[:500]},
        )
        return render(
            "upload_refused.html",
            refused.status,
            **_page(current, message=refused.message, problems=refused.problems, filename=filename),
        )
    return render(
        "upload_result.html",
        **_page(current, outcome=outcome, upload_id=upload_id, filename=filename, record_type=record_type),
    )


async def import_sheet(
    ctx: WorkbenchContext, staff: Staff, record_type: RecordType, content: bytes, filename: str
) -> tuple[Any, str]:
    """Read, submit and keep the result sheet of one file (the page and `exchange records import`)."""
    version = ctx.version_in_force(record_type)
    cols, rows = sheets.read(content, filename, record_type, version, max_rows=ctx.settings.max_rows)
    outcome = await submit_rows(ctx.services, staff, record_type, rows)
    result = sheets.result_sheet(cols, outcome.results)
    upload_id = uuid.uuid4().hex
    now = ctx.now()
    async with ctx.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO workbench.uploads (id, username, department, record_type, filename, rows, accepted, "
                "rejected, result, created_at) VALUES (:id, :u, :d, :t, :f, :n, :a, :r, :res, :now)"
            ),
            {
                "id": upload_id,
                "u": staff.username,
                "d": staff.department,
                "t": record_type.name,
                "f": filename,
                "n": len(outcome.results),
                "a": outcome.accepted,
                "r": outcome.rejected,
                "res": result,
                "now": now,
            },
        )
    trail = [
        {
            "at": now,
            "u": staff.username,
            "d": staff.department,
            "a": f"upload:{record_type.name}",
            "o": "accepted" if r.accepted else "rejected",
            "r": (r.row.record or {}).get("id"),
            "h": r.receipt_hash,
            "s": None,
        }
        for r in outcome.results
    ]
    await accounts.record_actions(ctx.engine, trail)
    return outcome, upload_id


@router.get("/uploads/{upload_id}.xlsx")
async def upload_result(request: Request, upload_id: str) -> Response:
    current = await session(request)
    ctx = _ctx(request)
    async with ctx.engine.connect() as conn:
        row = (await conn.execute(text("SELECT * FROM workbench.uploads WHERE id = :id"), {"id": upload_id})).first()
    if row is None or (current.staff.department is not None and row.department != current.staff.department):
        raise Refused(404, "没有找到这次上传的结果。")
    filename = quote(f"报送结果-{row.filename.rsplit('.', 1)[0]}.xlsx")
    return Response(
        bytes(row.result), media_type=XLSX, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"}
    )


# -- county scorecard -------------------------------------------------------------------------------------


async def _scorecard(ctx: WorkbenchContext, staff: Staff, month: str) -> list[dict[str, Any]]:
    params = {"month": month}
    if staff.department:
        params["department"] = staff.department
    reporting = await ctx.services.json("ingest", "/v1/scorecard", staff, params)
    feedback = await ctx.services.json("sanctions", "/v1/scorecard", staff, params)
    deadlines = await ctx.services.json("publish", "/v1/scorecard", staff, params)
    merged: dict[str, dict[str, Any]] = {}
    names = {code: d.name for code, d in ctx.catalogue.departments.items()}
    for part, body in (("reporting", reporting), ("feedback", feedback), ("deadlines", deadlines)):
        for row in body["departments"]:
            entry = merged.setdefault(
                row["department"],
                {"department": row["department"], "name": names.get(row["department"], row["department"])},
            )
            entry[part] = row
    return [merged[k] for k in sorted(merged)]


def _month(ctx: WorkbenchContext, month: str | None) -> str:
    if month and len(month) == 7 and month[4] == "-" and month.replace("-", "").isdigit():
        return month
    return ctx.today().strftime("%Y-%m")


@router.get("/scorecard")
async def scorecard(request: Request, month: str | None = None) -> Response:
    current = await session(request)
    ctx = _ctx(request)
    chosen = _month(ctx, month)
    rows = await _scorecard(ctx, current.staff, chosen)
    svg = charts.deadlines_met(rows)
    return render("scorecard.html", **_page(current, rows=rows, month=chosen, chart=svg))


@router.get("/scorecard.xlsx")
async def scorecard_export(request: Request, month: str | None = None) -> Response:
    current = await session(request)
    ctx = _ctx(request)
    chosen = _month(ctx, month)
    rows = await _scorecard(ctx, current.staff, chosen)
    wb = Workbook()
    ws = wb.active
    ws.title = f"{chosen} 考核通报"
    ws.append(
        [
            "部门代码",
            "部门",
            "报送条数",
            "迟报",
            "退回",
            "公示应办",
            "按时公示",
            "公示按时率",
            "异议应办",
            "异议按时",
            "修复应办",
            "修复按时",
            "反馈措施",
            "已反馈措施",
            "反馈完整率",
        ]
    )
    for r in rows:
        rep, fb, dl = r.get("reporting", {}), r.get("feedback", {}), r.get("deadlines", {})
        dis, obj, rep2 = dl.get("disclosures", {}), dl.get("objections", {}), dl.get("repairs", {})
        ws.append(
            [
                r["department"],
                r["name"],
                rep.get("accepted"),
                rep.get("reported_late"),
                rep.get("rejected"),
                dis.get("due"),
                dis.get("met"),
                dis.get("met_rate"),
                obj.get("due"),
                obj.get("on_time"),
                rep2.get("due"),
                rep2.get("on_time"),
                fb.get("measures"),
                fb.get("measures_answered"),
                fb.get("completeness"),
            ]
        )
    out = io.BytesIO()
    wb.save(out)
    filename = quote(f"部门信用考核-{chosen}.xlsx")
    return Response(
        out.getvalue(), media_type=XLSX, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"}
    )


# -- receipts (对账) ---------------------------------------------------------------------------------------


async def _trail(ctx: WorkbenchContext, staff: Staff, department: str | None) -> list[Any]:
    async with ctx.engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    text(
                        "SELECT at, username, department, action, outcome, record_id, receipt_hash FROM "
                        "workbench.actions WHERE record_id IS NOT NULL AND (CAST(:d AS text) IS NULL "
                        "OR department = :d) ORDER BY at DESC, id DESC LIMIT 20000"
                    ),
                    {"d": department},
                )
            ).all()
        )


@router.get("/receipts")
async def receipts(request: Request, department: str | None = None) -> Response:
    current = await session(request)
    ctx = _ctx(request)
    chosen = current.staff.department or department
    rows = await _trail(ctx, current.staff, chosen)
    return render("receipts.html", **_page(current, rows=rows[:500], department=chosen, total=len(rows)))


@router.get("/receipts.xlsx")
async def receipts_export(request: Request, department: str | None = None) -> Response:
    current = await session(request)
    ctx = _ctx(request)
    chosen = current.staff.department or department
    rows = await _trail(ctx, current.staff, chosen)
    wb = Workbook()
    ws = wb.active
    ws.title = "回执对账"
    ws.append(["时间", "部门", "经办人", "操作", "结果", "部门记录编号", "回执哈希"])
    for r in rows:
        ws.append([r.at.isoformat(), r.department, r.username, r.action, r.outcome, r.record_id, r.receipt_hash])
    out = io.BytesIO()
    wb.save(out)
    filename = quote(f"回执对账-{chosen or '全县'}.xlsx")
    return Response(
        out.getvalue(), media_type=XLSX, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"}
    )


def install(app: Any) -> None:
    app.add_exception_handler(NeedSignIn, on_need_sign_in)
    app.add_exception_handler(Refused, on_refused)
    app.add_exception_handler(ServiceUnavailable, on_unavailable)


# -- webhook subscriptions and their delivery log (订阅推送, through the bridge's API) ----------------------

DELIVERY_STATES = {"pending": "待投递", "delivered": "已送达"}
SUBSCRIPTION_STATES = {"active": "正常", "paused": "已暂停", "deleted": "已删除"}


@router.get("/subscriptions")
async def subscriptions(request: Request, sub: str | None = None, state: str | None = None) -> Response:
    """The signed-in staff member's department's (or the county's) webhook subscriptions and, for one of
    them, its delivery log: attempts, last status and error per delivery, each attempt, alerts. Read through
    the bridge's API acting for the user, so the bridge's own rule decides what is shown."""
    current = await session(request)
    ctx = _ctx(request)
    listed = await ctx.services.json("bridge", "/v1/subscriptions", current.staff)
    chosen: dict[str, Any] | None = None
    deliveries: list[dict[str, Any]] = []
    if sub:
        found = await ctx.services.call("bridge", "GET", f"/v1/subscriptions/{quote(sub, safe='')}", current.staff)
        if found.status_code == 404:
            raise Refused(404, "没有该订阅，或该订阅不属于本部门。")
        if found.status_code != 200:
            raise ServiceUnavailable(f"bridge 服务返回 {found.status_code}：{found.text[:200]}")
        chosen = found.json()
        params = {"limit": "200"} | ({"state": state} if state in DELIVERY_STATES else {})
        log_page = await ctx.services.json(
            "bridge", f"/v1/subscriptions/{quote(sub, safe='')}/deliveries", current.staff, params=params
        )
        deliveries = log_page["deliveries"]
    return render(
        "subscriptions.html",
        **_page(
            current,
            subscriptions=listed["subscriptions"],
            chosen=chosen,
            deliveries=deliveries,
            state=state if state in DELIVERY_STATES else None,
            delivery_states=DELIVERY_STATES,
            subscription_states=SUBSCRIPTION_STATES,
        ),
    )
