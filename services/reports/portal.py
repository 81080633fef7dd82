"""The public pages of the reports service: the 报告核验 page (by number, or by uploading the file) and
the form the portal's 下载信用报告 / 专项信用报告 buttons post to. Server-rendered, no script."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from services.common.http import ApiProblem
from services.reports import store
from services.reports.api import NUMBER, _check_public_code, ctx_of, engine_of, issue_report, verification, verify_bytes
from services.reports.document import _env

router = APIRouter(include_in_schema=False)
STATUSES = {"valid": "有效", "expired": "已过有效期", "superseded": "已被新报告取代"}


def _page(request: Request, number: str | None, result: dict[str, Any] | None, status: int = 200) -> HTMLResponse:
    ctx = ctx_of(request)
    html = (
        _env()
        .get_template("verify.html")
        .render(
            number=number,
            result=result,
            county=ctx.jurisdiction_name,
            statuses=STATUSES,
            portal_url=request.app.state.portal_url,
        )
    )
    return HTMLResponse(html, status_code=status)


async def _by_number(request: Request, number: str) -> dict[str, Any]:
    if not NUMBER.fullmatch(number):
        return {
            "ok": False,
            "headline": "核验未通过：报告编号格式不正确",
            "problem": "报告编号形如 XYBG-20261120-0000001",
        }
    async with engine_of(request).connect() as conn:
        row = await store.load_report(conn, ctx_of(request).schema, number)
    if row is None:
        return {"ok": False, "headline": "核验未通过：本平台未出具过该编号的报告", "problem": "该报告可能是伪造的。"}
    report = verification(ctx_of(request), row)
    ok = report["status"] == "valid"
    headline = "报告真实有效" if ok else f"报告真实，但{STATUSES[report['status']]}"
    return {"ok": ok, "headline": headline, "problem": None, "report": report}


@router.get("/verify", response_class=HTMLResponse)
async def verify_page(request: Request, number: Annotated[str | None, Query(max_length=40)] = None) -> HTMLResponse:
    number = number.strip() if number else None
    return _page(request, number, await _by_number(request, number) if number else None)


@router.post("/verify", response_class=HTMLResponse)
async def verify_upload(
    request: Request,
    number: Annotated[str, Form(max_length=40)] = "",
    file: UploadFile | None = None,
) -> HTMLResponse:
    number = number.strip()
    data = await file.read(ctx_of(request).max_upload_bytes + 1) if file is not None and file.filename else b""
    if len(data) > ctx_of(request).max_upload_bytes:
        return _page(request, number, {"ok": False, "headline": "文件过大", "problem": "报告文件不超过 5 MB。"}, 413)
    if not data:
        if not number:
            return _page(request, None, {"ok": False, "headline": "请输入报告编号或上传报告文件", "problem": None}, 422)
        return _page(request, number, await _by_number(request, number))
    checked = await verify_bytes(request, data)
    if number and checked.get("number") and checked["number"] != number:
        result = {
            "ok": False,
            "headline": "核验未通过：文件与所填编号不符",
            "problem": f"文件的报告编号为 {checked['number']}",
        }
    elif not checked["authentic"]:
        result = {"ok": False, "headline": "核验未通过：文件不是本平台出具的原件", "problem": checked["problem"]}
    else:
        report = checked["report"]
        ok = report["status"] == "valid"
        headline = "报告真实有效，文件未被改动" if ok else f"文件未被改动，但报告{STATUSES[report['status']]}"
        result = {"ok": ok, "headline": headline, "problem": None, "report": report}
    return _page(request, number or checked.get("number"), result)


@router.post("/portal/reports")
async def portal_report(
    request: Request,
    code: Annotated[str, Form(min_length=1, max_length=64)],
    kind: Annotated[Literal["public", "special"], Form()] = "public",
    format: Annotated[Literal["pdf", "html"], Form()] = "pdf",
) -> Response:
    """下载信用报告 / 专项信用报告 from the portal's subject page: issue, then hand over the file."""
    try:
        _check_public_code(code, "/form/code")
        issued = await issue_report(
            request,
            kind=kind,
            code=code,
            as_of=ctx_of(request).today(),
            matter=None,
            purpose="信用网站自助下载",
            principal=None,
            formats=[format],
            pointer="/form/code",
        )
    except ApiProblem as problem:
        message = problem.errors[0].message if problem.errors else "无法出具报告"
        return HTMLResponse(
            "<!doctype html><html lang=zh-CN><meta charset=utf-8><title>无法出具报告</title>"
            f"<p>{_esc(message)}</p></html>",
            problem.status,
        )
    number = issued["number"]
    if format == "html":
        return Response(issued["_html"], media_type="text/html; charset=utf-8")
    return Response(
        issued["_pdf"],
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{number}.pdf"'},
    )


def _esc(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))
