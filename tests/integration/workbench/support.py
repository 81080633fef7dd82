"""Helpers of the workbench tests: staff accounts, signing in, forms with their CSRF token, sheets."""

from __future__ import annotations

import asyncio
import io
import os
import re
import sys
from typing import Any

import httpx
from openpyxl import Workbook, load_workbook

from services.common.clock import SHANGHAI
from services.workbench import accounts
from services.workbench.accounts import StaffRole
from services.workbench.context import WorkbenchContext

PASSWORD = "correct-horse-电池-42"
STAFF = {
    "amr_clerk": ("王经办", StaffRole.CLERK, "AMR"),
    "amr_head": ("李科长", StaffRole.HEAD, "AMR"),
    "tax_clerk": ("赵经办", StaffRole.CLERK, "TAX"),
    "county": ("县信用办刘主任", StaffRole.COUNTY, None),
}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def context(client: httpx.AsyncClient) -> WorkbenchContext:
    ctx: WorkbenchContext = client.app.state.workbench  # type: ignore[attr-defined]
    return ctx


async def add_staff(client: httpx.AsyncClient) -> None:
    ctx = context(client)
    # One account through the operator's command, the others through the same function it calls.
    done = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "user",
        "add",
        "amr_clerk",
        "--name",
        "王经办",
        "--role",
        "clerk",
        "--department",
        "AMR",
        "--password-stdin",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ),
    )
    out, err = await done.communicate((PASSWORD + "\n").encode())
    assert done.returncode == 0, (out, err)
    for username, (name, role, department) in STAFF.items():
        if username == "amr_clerk":
            continue
        await accounts.add_user(
            ctx.engine,
            username=username,
            display_name=name,
            role=role,
            department=department,
            password=PASSWORD,
            now=ctx.now(),
        )


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match is not None, html[:2000]
    return match.group(1)


async def sign_in(workbench: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.AsyncClient:
    """A client of its own (its own cookie jar), signed in as `username`."""
    client = httpx.AsyncClient(transport=workbench._transport, base_url="http://workbench")
    page = await client.get("/login")
    response = await client.post(
        "/login", data={"username": username, "password": password, "csrf": csrf_of(page.text)}
    )
    assert response.status_code == 303, response.text
    return client


async def form_post(
    client: httpx.AsyncClient, page_url: str, url: str, data: dict[str, Any], **kw: Any
) -> httpx.Response:
    page = await client.get(page_url)
    assert page.status_code == 200, page.text
    return await client.post(url, data={**data, "csrf": csrf_of(page.text)}, **kw)


async def upload(
    client: httpx.AsyncClient, record_type: str, filename: str, content: bytes, content_type: str | None = None
) -> httpx.Response:
    page = await client.get("/report")
    kind = content_type or "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return await client.post(
        "/sheets/upload",
        data={"type": record_type, "csrf": csrf_of(page.text)},
        files={"file": (filename, content, kind)},
    )


def sheet_rows(content: bytes) -> list[list[Any]]:
    wb = load_workbook(io.BytesIO(content))
    return [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]


def fill(template: bytes, rows: list[dict[str, Any]]) -> bytes:
    """The template with the example row replaced by `rows` (keyed by data-element code)."""
    wb = load_workbook(io.BytesIO(template))
    ws = wb.worksheets[0]
    codes = [re.search(r"（(.+)）$", str(c.value)).group(1) for c in ws[1]]  # type: ignore[union-attr]
    ws.delete_rows(2)
    for n, row in enumerate(rows, start=2):
        for column, code in enumerate(codes, start=1):
            if code in row:
                ws.cell(row=n, column=column, value=row[code])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def penalty_row(record: dict[str, Any]) -> dict[str, Any]:
    """A sheet row of a penalty record of tests.factories (lists joined with 、)."""
    row: dict[str, Any] = {"id": record["id"]}
    for key, value in record["data"].items():
        row[key] = "、".join(value) if isinstance(value, list) else value
    return row


def blank_workbook(header: list[str], rows: list[list[Any]]) -> Workbook:
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    return wb


def today_shanghai(client: httpx.AsyncClient) -> str:
    return context(client).now().astimezone(SHANGHAI).date().isoformat()
