"""`exchange user add/disable` and `exchange records import` (issue 17)."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from services.common.catalogue import load_catalogue
from services.common.clock import SystemClock
from services.common.settings import CommonSettings
from services.workbench import accounts, sheets
from services.workbench.accounts import Staff, StaffRole
from services.workbench.client import Services, ServiceUnavailable
from services.workbench.imports import submit_rows


async def user_add(
    settings: CommonSettings, username: str, name: str, role: str, department: str | None, password_stdin: bool
) -> int:
    from services.common.db import create_engine

    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass("密码（至少 10 位）: ")
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        await accounts.add_user(
            engine,
            username=username,
            display_name=name,
            role=StaffRole(role),
            department=department,
            password=password,
            now=datetime.now(UTC),
        )
    except ValueError as exc:
        print(f"exchange: {exc}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()
    print(f"user {username} ({role}{', ' + department if department else ''}) ready")
    return 0


async def user_disable(settings: CommonSettings, username: str) -> int:
    from services.common.db import create_engine

    engine = create_engine(settings.database_url, pool_size=1)
    try:
        done = await accounts.disable_user(engine, username, datetime.now(UTC))
    finally:
        await engine.dispose()
    if not done:
        print(f"no active user {username}", file=sys.stderr)
        return 1
    print(f"disabled {username}; their sessions are ended")
    return 0


async def records_import(
    settings: CommonSettings,
    file: Path,
    *,
    department: str,
    type_name: str,
    result: Path | None,
    ingest_url: str | None,
    token: str | None,
) -> int:
    """Submit a filled template or CSV with the department's own token, as the workbench would; write the
    result sheet next to it. Exit 0: every row accepted; 1: some rows rejected; 2: the file was refused."""
    token = token or os.environ.get(f"TOKEN_{department}")
    url = ingest_url or os.environ.get("INGEST_URL", "http://127.0.0.1:8001")
    if not token:
        print(f"exchange: give --token or set TOKEN_{department} (the department's token)", file=sys.stderr)
        return 2
    catalogue = load_catalogue(settings.schemas_dir)
    record_type = catalogue.record_types.get(type_name)
    if record_type is None:
        print(f"exchange: unknown record type {type_name!r}", file=sys.stderr)
        return 2
    today = SystemClock().now().date()
    versions = [v for v in record_type.versions.values() if v.effective_from <= today] or list(
        record_type.versions.values()
    )
    version = max(versions, key=lambda v: v.version)
    started = time.monotonic()
    try:
        cols, rows = sheets.read(
            await asyncio.to_thread(file.read_bytes), file.name, record_type, version, max_rows=10_000
        )
    except sheets.SheetRefused as refused:
        print(f"文件未接收：{refused.message}", file=sys.stderr)
        return 2
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(120.0, connect=5.0)) as client:
        services = Services({"ingest": client}, token)
        staff = Staff(f"cli:{getpass.getuser()}", "命令行导入", StaffRole.CLERK, department)
        try:
            outcome = await submit_rows(services, staff, record_type, rows)
        except ServiceUnavailable as exc:
            print(f"exchange: {exc}", file=sys.stderr)
            return 2
    out = result or file.with_name(f"{file.stem}.result.xlsx")
    await asyncio.to_thread(out.write_bytes, sheets.result_sheet(cols, outcome.results))
    elapsed = time.monotonic() - started
    print(
        f"{len(outcome.results)} rows: {outcome.accepted} accepted, {outcome.rejected} rejected "
        f"in {elapsed:.1f}s ({len(outcome.results) / max(elapsed, 1e-9):.0f} rows/s); result sheet: {out}"
    )
    return 0 if outcome.rejected == 0 else 1
