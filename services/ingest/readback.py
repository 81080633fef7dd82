"""Read-back for reconciliation (issue 21): a department reads its own records as the exchange accepted them,
and its receipts of a period, to check them against its own system. Every read is access-logged."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from services.common.access_log import log_access
from services.common.auth import Principal, Role
from services.common.clock import SHANGHAI
from services.common.http import ApiError, ApiProblem, FastJSONResponse, require
from services.ingest import store
from services.ingest.api import IngestContext

router = APIRouter()


def context(request: Request) -> IngestContext:
    ctx: IngestContext = request.app.state.ingest
    return ctx


Department = Annotated[Principal, Depends(require(Role.DEPARTMENT))]
READ_BACK_PAGE = 1000


async def _log_read(request: Request, ctx: IngestContext, caller: Principal, what: str, subject: str) -> None:
    await log_access(
        request.app.state.engine,
        schema=store.SCHEMA,
        topic=ctx.audit_topic,
        service="ingest",
        principal=caller,
        what=what,
        subject=subject,
        purpose="reconciliation",
        at=ctx.clock.now(),
    )


@router.get("/v1/records/{record_id}", summary="Read back one of your own records and its receipt (对账)")
async def get_record(
    request: Request, caller: Department, record_id: Annotated[str, PathParam(min_length=1, max_length=200)]
) -> Response:
    """The record as the exchange accepted it, with its receipt: a department reconciles its own
    records only (another department's id is simply not found). Every read is access-logged."""
    ctx = context(request)
    assert caller.department is not None
    async with request.app.state.engine.connect() as conn:
        row = await store.read_back(conn, caller.department, record_id)
    if row is None:
        raise ApiProblem(
            404,
            [ApiError("/path/record_id", "not_found", f"{caller.department} has reported no record {record_id!r}")],
        )
    await _log_read(request, ctx, caller, "record", row["subject_code"])
    return FastJSONResponse(row)


def _instant(value: str, pointer: str) -> datetime:
    """`YYYY-MM-DD` (midnight, Asia/Shanghai) or an RFC 3339 time with offset."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), SHANGHAI)
        instant = datetime.fromisoformat(value)
    except ValueError:
        instant = None
    if instant is None or instant.tzinfo is None:
        raise ApiProblem(
            422, [ApiError(pointer, "invalid_time", "give YYYY-MM-DD or an RFC 3339 time with offset (含时区)")]
        )
    return instant


@router.get("/v1/receipts", summary="Your receipts received in [from, to), in chain order (对账)")
async def list_receipts(
    request: Request,
    caller: Department,
    from_: Annotated[str, Query(alias="from", description="YYYY-MM-DD (Asia/Shanghai) or RFC 3339, inclusive")],
    to: Annotated[str | None, Query(description="exclusive; default: the day after `from`")] = None,
    cursor: Annotated[int, Query(ge=0, description="next_cursor of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=READ_BACK_PAGE)] = READ_BACK_PAGE,
) -> Response:
    """A department's own receipts, to check against what it sent: each one verifies with the public key
    (`GET /v1/receipts/public-key`) and chains to the one before (`prev_hash`). Access-logged."""
    ctx = context(request)
    assert caller.department is not None
    start = _instant(from_, "/query/from")
    end = _instant(to, "/query/to") if to else start + timedelta(days=1)
    if end <= start:
        raise ApiProblem(422, [ApiError("/query/to", "invalid_range", "`to` must be after `from`")])
    async with request.app.state.engine.connect() as conn:
        receipts = await store.receipts_between(conn, caller.department, start, end, after_seq=cursor, limit=limit)
    await _log_read(request, ctx, caller, "receipts", caller.department)
    next_cursor = str(receipts[-1]["seq"]) if len(receipts) == limit else None
    return FastJSONResponse(
        {
            "department": caller.department,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "receipts": receipts,
            "next_cursor": next_cursor,
        }
    )
