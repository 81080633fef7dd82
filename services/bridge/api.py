"""Bridge HTTP endpoints: the unified outcome feed, webhook subscriptions with their delivery log, and the
province's reconciliation report and dated export. Deny by default; every non-empty feed page is logged."""

from __future__ import annotations

import base64
import secrets
import time
from datetime import date
from typing import Annotated, Any

import httpx
import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from services.bridge import province, store
from services.bridge.handlers import send_back_answers_seen
from services.bridge.rules import inbound as inbound_rules
from services.bridge.rules.audience import FAMILIES, endpoint_problem, may_subscribe
from services.bridge.settings import BridgeSettings
from services.bridge.wakeup import Wakeup
from services.common.access_log import log_access
from services.common.auth import Principal, Role
from services.common.clock import SHANGHAI, Clock, shanghai_date
from services.common.http import ApiError, ApiProblem, FastJSONResponse, forbidden, require

router = APIRouter()
Reader = Annotated[Principal, Depends(require(Role.DEPARTMENT, Role.COUNTY, Role.AUDITOR))]
Subscriber = Annotated[Principal, Depends(require(Role.DEPARTMENT, Role.COUNTY))]
County = Annotated[Principal, Depends(require(Role.COUNTY, Role.AUDITOR))]
CountyOffice = Annotated[Principal, Depends(require(Role.COUNTY))]
MAX_INBOUND_BYTES = 20 * 1024 * 1024


def _bad(path: str, message: str, code: str = "invalid") -> ApiProblem:
    return ApiProblem(422, [ApiError(path, code, message)])


def _not_found() -> ApiProblem:
    return ApiProblem(404, [ApiError("/path/id", "not_found", "没有该订阅 (no such subscription)")])


def _state(request: Request) -> tuple[AsyncEngine, BridgeSettings, Clock, Wakeup]:
    s = request.app.state
    return s.engine, s.settings, s.clock, s.wakeup


def _event(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "cursor": str(store.FeedCursor(int(r["txid"]), r["position"])),
        "id": r["event_id"],
        "type": r["type"],
        "source": r["source"],
        "subject": r["subject"],
        "departments": r["departments"],
        "time": r["time"].astimezone(SHANGHAI).isoformat(),
        "data": r["data"],
    }


@router.get(
    "/v1/outcomes", summary="Every outcome in one feed, long-poll (结果订阅：公示、名单、等级、案件、异议、修复)"
)
async def get_outcomes(
    request: Request,
    caller: Reader,
    after: Annotated[str | None, Query(max_length=60, description="`next` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    type: Annotated[list[str] | None, Query(max_length=80, description="a CloudEvents type or a family")] = None,
    department: Annotated[str | None, Query(max_length=32)] = None,
    wait: Annotated[float, Query(ge=0, le=60, description="seconds to hold an empty page open")] = 0,
) -> Response:
    engine, settings, clock, wakeup = _state(request)
    cursor = store.FeedCursor.parse(after) if after else None
    if after and cursor is None:
        raise _bad("/query/after", "after 须为上一页的 next (after must be the `next` of a previous page)")
    types, families = [], []
    for i, t in enumerate(type or []):
        if t in FAMILIES:
            families.append(t)
        elif t.count(".") >= 3 and t.startswith("cn.credit."):
            types.append(t)
        else:
            raise _bad(f"/query/type/{i}", f"未知事件类型 {t!r} (a cn.credit.* type or one of {', '.join(FAMILIES)})")
    if caller.role is Role.DEPARTMENT:
        if department not in (None, caller.department):
            raise forbidden("部门只能读取涉及本部门的结果 (a department reads its own outcomes)", "/query/department")
        department = caller.department
    deadline = time.monotonic() + min(wait, settings.feed_max_wait_seconds)
    while True:
        async with engine.connect() as conn:
            rows = await store.feed_page(conn, cursor, limit, types=types, families=families, department=department)
        remaining = deadline - time.monotonic()
        if rows or remaining <= 0:
            break
        # A quiet feed costs nothing: wait for the consumer's NOTIFY (or re-check at least once a second for
        # rows that become visible when an older transaction ends).
        await wakeup.wait(min(remaining, 1.0))
    if rows:
        # Logged per page delivered, never per empty poll.
        await log_access(
            engine,
            schema=store.SCHEMA,
            topic=settings.topic("audit.access"),
            service="bridge",
            principal=caller,
            what="outcomes-feed",
            subject="*",
            purpose=None,
            at=clock.now(),
            answer=f"{len(rows)} events after {cursor or 'start'}",
        )
    items = [_event(r) for r in rows]
    next_cursor = items[-1]["cursor"] if items else str(cursor or store.FeedCursor(0, 0))
    return FastJSONResponse({"events": items, "next": next_cursor, "has_more": len(items) == limit})


class NewSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000, description="https:// endpoint that receives the deliveries")
    types: list[str] = Field(min_length=1, max_length=50, description="CloudEvents types or families")


def _owner(caller: Principal) -> tuple[str, str | None]:
    return caller.role.value, caller.department


def _public(sub: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": sub["id"],
        "role": sub["role"],
        "department": sub["department"],
        "url": sub["url"],
        "types": list(sub["types"]),
        "state": sub["state"],
        "paused_reason": sub["paused_reason"],
        "paused_at": sub["paused_at"].isoformat() if sub["paused_at"] else None,
        "created_at": sub["created_at"].isoformat(),
    }


@router.post("/v1/subscriptions", status_code=201, summary="Register a webhook (订阅推送); the secret is shown once")
async def create_subscription(request: Request, caller: Subscriber, body: NewSubscription) -> Response:
    engine, settings, clock, _ = _state(request)
    problem = endpoint_problem(body.url, allow_http=settings.webhook_allow_http)
    if problem is not None:
        raise _bad("/url", problem)
    refused = may_subscribe(caller.role.value, body.types)
    if refused is not None:
        i = body.types.index(refused)
        raise forbidden(
            f"该角色不能订阅 {refused} (a {caller.role.value} may not subscribe to it; departments: their own "
            "instructions and objections)",
            f"/types/{i}",
        )
    sub_id = "sub_" + secrets.token_hex(8)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    now = clock.now()
    async with engine.begin() as conn:
        await store.create_subscription(
            conn,
            {
                "id": sub_id,
                "credential_id": caller.credential_id,
                "role": caller.role.value,
                "department": caller.department,
                "url": body.url,
                "types": body.types,
                "secret": request.app.state.secret_box.seal(secret),  # never stored in clear
                "created_at": now,
            },
        )
        created = await store.get_subscription(conn, sub_id)
    assert created is not None
    # The only time the secret leaves the exchange (Standard Webhooks: whsec_ + base64 of 32 bytes).
    return FastJSONResponse({**_public(created), "secret": secret}, status_code=201)


async def _owned(engine: AsyncEngine, caller: Principal, sub_id: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        sub = await store.get_subscription(conn, sub_id)
    if sub is None:
        raise _not_found()
    if caller.role is not Role.AUDITOR and (sub["role"], sub["department"]) != _owner(caller):
        raise _not_found()  # another party's subscription does not exist for this caller
    return sub


@router.get("/v1/subscriptions", summary="Webhook subscriptions of the caller (the auditor: all)")
async def list_subscriptions(request: Request, caller: Reader) -> Response:
    engine, *_ = _state(request)
    async with engine.connect() as conn:
        subs = await store.list_subscriptions(conn, None if caller.role is Role.AUDITOR else _owner(caller))
    return FastJSONResponse({"subscriptions": [_public(s) for s in subs]})


@router.get("/v1/subscriptions/{sub_id}", summary="One subscription: state, delivery counts, alerts")
async def get_subscription(request: Request, caller: Reader, sub_id: str) -> Response:
    engine, *_ = _state(request)
    sub = await _owned(engine, caller, sub_id)
    async with engine.connect() as conn:
        counts = await store.delivery_counts(conn, sub_id)
        alerts = await store.alerts_of(conn, sub_id)
    return FastJSONResponse(
        {
            **_public(sub),
            "deliveries": {"pending": counts.get("pending", 0), "delivered": counts.get("delivered", 0)},
            "alerts": [{"at": a["at"].isoformat(), "kind": a["kind"], "message": a["message"]} for a in alerts],
        }
    )


@router.get("/v1/subscriptions/{sub_id}/deliveries", summary="Delivery log: attempts, status, last error (投递记录)")
async def get_deliveries(
    request: Request,
    caller: Reader,
    sub_id: str,
    state: Annotated[str | None, Query(pattern="^(pending|delivered)$")] = None,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    engine, *_ = _state(request)
    await _owned(engine, caller, sub_id)
    async with engine.connect() as conn:
        rows = await store.deliveries_of(conn, sub_id, state=state, after=after, limit=limit)
    items = [
        {
            "id": r["id"],
            "event_id": r["event_id"],
            "type": r["type"],
            "subject": r["subject"],
            "state": r["state"],
            "attempts": r["attempts"],
            "next_attempt_at": r["next_attempt_at"].isoformat() if r["state"] == "pending" else None,
            "last_status": r["last_status"],
            "last_error": r["last_error"],
            "delivered_at": r["delivered_at"].isoformat() if r["delivered_at"] else None,
            "attempt_log": r["attempt_log"],
        }
        for r in rows
    ]
    return FastJSONResponse({"deliveries": items, "next": items[-1]["id"] if items else after})


@router.post("/v1/subscriptions/{sub_id}/resume", summary="Resume a paused subscription (every waiting delivery goes)")
async def resume(request: Request, caller: Subscriber, sub_id: str) -> Response:
    engine, _, clock, wakeup = _state(request)
    await _owned(engine, caller, sub_id)
    async with engine.begin() as conn:
        await store.set_subscription_state(conn, sub_id, "active", clock.now())
    wakeup.fire()
    return await get_subscription(request, caller, sub_id)


@router.delete("/v1/subscriptions/{sub_id}", status_code=204, summary="End a subscription")
async def delete(request: Request, caller: Subscriber, sub_id: str) -> Response:
    engine, _, clock, _ = _state(request)
    await _owned(engine, caller, sub_id)
    async with engine.begin() as conn:
        await store.set_subscription_state(conn, sub_id, "deleted", clock.now())
    return Response(status_code=204)


@router.get("/v1/bridge/reconciliation", summary="Daily reconciliation with the province (对账报告)")
async def get_reconciliation(request: Request, caller: County, day: Annotated[date, Query(alias="date")]) -> Response:
    engine, _, clock, _ = _state(request)
    async with engine.connect() as conn:
        rows = await store.province_day(conn, day)
        deadlines = await store.province_deadlines(conn, max(day, shanghai_date(clock.now())))
    return FastJSONResponse(province.reconciliation(day, rows, deadlines, clock.now()))


@router.get("/v1/bridge/exports/{day}", summary="The dated file for the province (文件方式交换), JSON Lines")
async def get_export(request: Request, caller: County, day: date) -> Response:
    engine, settings, _, _ = _state(request)
    async with engine.connect() as conn:
        rows = await store.province_day(conn, day)
    name = province.export_name(settings.jurisdiction, day)
    return Response(
        province.export_lines(rows),
        media_type="application/x-ndjson",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


def _inbound_view(head: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    counts = dict.fromkeys(("accepted", "duplicate", "refused", "pending"), 0)
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    return {
        "id": head["id"],
        "batch_id": head["batch_id"],
        "received_at": head["received_at"].isoformat(),
        "received_by": head["received_by"],
        "rows": head["rows"],
        "counts": counts,
        "records": [
            {
                "n": r["n"],
                "id": r["row_id"],
                "list": r["list"],
                "department": r["department"],
                "record_type": r["record_type"],
                "subject": r["subject"],
                "state": r["state"],
                "receipt": r["receipt"],
                "errors": r["errors"],
                "attempts": r["attempts"],
                "last_error": r["last_error"],
            }
            for r in rows
        ],
    }


@router.post(
    "/v1/bridge/inbound",
    status_code=201,
    summary="Import a national list file (国家级名单导入, cx-national/1): per-row state",
)
async def post_inbound(request: Request, caller: CountyOffice) -> Response:
    engine = request.app.state.engine
    raw = await request.body()
    if len(raw) > MAX_INBOUND_BYTES:
        raise ApiProblem(413, [ApiError("", "too_large", f"文件过大（至多 {MAX_INBOUND_BYTES} 字节）")])
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _bad("", f"文件不是合法的 JSON (not JSON: {exc})", "malformed_file") from None
    problem = inbound_rules.file_problem(body)
    if problem is not None:
        raise _bad(problem.pointer, problem.message, problem.code)
    catalogue = request.app.state.catalogue
    file_id = await request.app.state.inbound.receive(body, caller.name, catalogue.departments, catalogue.record_types)
    async with engine.connect() as conn:
        found = await store.inbound_file(conn, file_id)
    assert found is not None
    return FastJSONResponse(_inbound_view(*found), status_code=201)


@router.get("/v1/bridge/inbound", summary="National list files received, newest first, with row counts")
async def list_inbound(request: Request, caller: County, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Response:
    async with request.app.state.engine.connect() as conn:
        files = await store.inbound_files(conn, limit)
    return FastJSONResponse(
        {
            "files": [
                {
                    **{k: f[k] for k in ("id", "batch_id", "received_by", "rows", "counts")},
                    "received_at": f["received_at"].isoformat(),
                }
                for f in files
            ]
        }
    )


@router.get("/v1/bridge/inbound/{file_id}", summary="One national list file: every row's state, receipt, reasons")
async def get_inbound(request: Request, caller: County, file_id: str) -> Response:
    async with request.app.state.engine.connect() as conn:
        found = await store.inbound_file(conn, file_id)
    if found is None:
        raise ApiProblem(404, [ApiError("/path/file_id", "not_found", "没有该导入文件 (no such file)")])
    return FastJSONResponse(_inbound_view(*found))


class ForwardedRepair(BaseModel):
    """A repair application filed at 信用中国 and forwarded down (docs/bridge-wire-format.md §5)."""

    model_config = ConfigDict(extra="forbid")
    format: str = Field(pattern="^cx-repair/1$")
    reference: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
    record_id: str = Field(min_length=3, max_length=200, description="公示记录编号 <部门>.<部门记录编号>")
    subject_code: str = Field(min_length=1, max_length=64)
    commitment: str = Field(min_length=10, max_length=4000)
    fulfilment: str = Field(min_length=1, max_length=4000)
    contact: str = Field(min_length=1, max_length=200)


def _forward_view(forward: dict[str, Any], answers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "reference": forward["reference"],
        "repair_id": forward["repair_id"],
        "record_id": forward["record_id"],
        "subject_code": forward["subject"],
        "state": forward["state"],
        "received_at": forward["received_at"].isoformat(),
        "answer": forward["answer"],
        "sent_back": [
            {
                "event_id": a["event_id"],
                "decision": a["payload"].get("decision"),
                "case_state": a["payload"].get("state"),
                "delivery": a["state"],
                "attempts": a["attempts"],
                "acknowledged_at": a["answered_at"].isoformat() if a["answered_at"] else None,
                "last_error": a["last_error"],
            }
            for a in answers
        ],
    }


@router.post(
    "/v1/bridge/repairs",
    status_code=201,
    summary="A repair application forwarded by 信用中国 enters the repair flow (信用修复申请转办)",
)
async def post_forwarded_repair(request: Request, caller: CountyOffice, body: ForwardedRepair) -> Response:
    engine, settings, clock, _ = _state(request)
    async with engine.connect() as conn:
        earlier = await store.get_forward(conn, body.reference)
    if earlier is not None and earlier["state"] == "filed":
        # A resend of the same application: the case already exists, nothing is filed twice.
        async with engine.connect() as conn:
            answers = await store.repair_answers(conn, earlier["repair_id"])
        return FastJSONResponse(_forward_view(earlier, answers), status_code=200)
    if not settings.publish_url or settings.publish_token is None:
        raise ApiProblem(503, [ApiError("", "not_configured", "未配置公示服务地址 (BRIDGE_PUBLISH_URL is not set)")])
    application = body.model_dump(exclude={"format", "reference"}) | {"external_reference": body.reference}
    try:
        async with httpx.AsyncClient(base_url=settings.publish_url, timeout=30, trust_env=False) as client:
            response = await client.post(
                "/v1/repairs",
                json=application,
                headers={"authorization": f"Bearer {settings.publish_token.get_secret_value()}"},
            )
    except httpx.HTTPError as exc:
        message = f"公示服务暂不可用，请稍后重发 (publish unreachable: {type(exc).__name__})"
        raise ApiProblem(503, [ApiError("", "unavailable", message)]) from None
    if response.status_code >= 500:
        raise ApiProblem(503, [ApiError("", "unavailable", f"公示服务暂不可用 (HTTP {response.status_code})")])
    answer = response.json()
    filed = response.status_code == 201
    forward = {
        "reference": body.reference,
        "repair_id": answer["repair"]["repair_id"] if filed else None,
        "record_id": body.record_id,
        "subject": body.subject_code,
        "received_at": clock.now(),
        "state": "filed" if filed else "refused",
        "answer": answer["repair"] if filed else {"status": response.status_code, "errors": answer.get("errors", [])},
    }
    async with engine.begin() as conn:
        await store.put_forward(conn, forward)
        stored = await store.get_forward(conn, body.reference)
        assert stored is not None
        if stored["state"] == "filed" and stored["repair_id"] == forward["repair_id"]:
            # The department may have answered before this row existed (the consumer then found no
            # reference for the answer): those answers go back now.
            await send_back_answers_seen(conn, request.app.state.bridge, stored["repair_id"], body.reference)
        answers = await store.repair_answers(conn, stored["repair_id"]) if stored["repair_id"] else []
    return FastJSONResponse(_forward_view(stored, answers), status_code=201 if filed else 422)


@router.get("/v1/bridge/repairs/{reference}", summary="A forwarded repair application and the answers sent back")
async def get_forwarded_repair(request: Request, caller: County, reference: str) -> Response:
    engine, *_ = _state(request)
    async with engine.connect() as conn:
        forward = await store.get_forward(conn, reference)
        answers = await store.repair_answers(conn, forward["repair_id"]) if forward and forward["repair_id"] else []
    if forward is None:
        raise ApiProblem(404, [ApiError("/path/reference", "not_found", "没有该转办申请 (no such reference)")])
    return FastJSONResponse(_forward_view(forward, answers))
