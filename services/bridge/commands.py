"""`exchange bridge reconcile|export`: the province reconciliation and the dated file, for the operator."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from services.bridge import province, store
from services.common.clock import SystemClock, shanghai_date
from services.common.db import create_engine
from services.common.settings import CommonSettings


async def reconcile(settings: CommonSettings, day: date) -> dict[str, Any]:
    engine = create_engine(settings.database_url, pool_size=1)
    now = SystemClock().now()
    try:
        async with engine.connect() as conn:
            rows = await store.province_day(conn, day)
            deadlines = await store.province_deadlines(conn, max(day, shanghai_date(now)))
    finally:
        await engine.dispose()
    return province.reconciliation(day, rows, deadlines, now)


async def export(settings: CommonSettings, day: date, folder: Path) -> tuple[Path, int]:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = await store.province_day(conn, day)
    finally:
        await engine.dispose()
    path = folder / province.export_name(settings.jurisdiction, day)
    path.write_bytes(province.export_lines(rows))
    return path, len(rows)
