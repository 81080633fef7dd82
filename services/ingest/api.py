"""Ingest HTTP endpoints (API.md "Ingest"). I/O only: validation and the commit live elsewhere."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.common.access_log import log_access
from services.common.auth import Principal, Role, is_national_channel
from services.common.clock import Clock, shanghai_date
from services.common.errors import ApiError, problem_body
from services.common.http import (
    ApiProblem,
    FastJSONResponse,
    authorize,
    department_scope,
    error_response,
    forbidden,
    require,
)
from services.common.metrics import REJECTIONS
from services.common.records import records_of_subjects
from services.common.scorecard import month_of, rate
from services.common.vocabulary import RecordTypeName
from services.ingest import rules, store
from services.ingest.preview import PreviewRules, as_accepted, preview
from services.ingest.validation import RecordValidator, Verdict
from services.ingest.writer import NotDurable, Outcome, Pending, ReceiptWriter

TARGETED_TYPES = rules.TARGETED_TYPES
"""Types that act on an earlier record of the same department and subject (谁认定、谁修复 for repairs)."""

router = APIRouter()
DEPARTMENTS = frozenset({Role.DEPARTMENT})
AnyCaller = Annotated[Principal, Depends(require(Role.DEPARTMENT, Role.COUNTY, Role.AUDITOR))]


@dataclass
class IngestContext:
    """What the endpoints need, built once by the app's lifespan."""

    validator: RecordValidator
    writer: ReceiptWriter
    clock: Clock
    max_body_bytes: int
    max_batch: int
    rejections: Counter[tuple[str, str, str]]
    preview_rules: PreviewRules | None = None
    audit_topic: str = "exchange.audit.access"


def _ctx(request: Request) -> IngestContext:
    ctx: IngestContext = request.app.state.ingest
    return ctx


async def read_json(request: Request, limit: int) -> Any:
    """The request body as JSON, refusing non-JSON (415), oversized (413) and malformed (400) bodies."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise ApiProblem(
            415,
            [
                ApiError(
                    "/headers/content-type",
                    "unsupported_media_type",
                    "send the record as JSON with Content-Type: application/json",
                )
            ],
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise ApiProblem(400, [ApiError("", "malformed_json", f"the body is not valid UTF-8 JSON: {exc}")]) from None


def _too_large(limit: int) -> ApiProblem:
    return ApiProblem(
        413, [ApiError("", "too_large", f"the body exceeds {limit} bytes; split it into smaller batches")]
    )


async def _check_correction_target(
    request: Request, ctx: IngestContext, department: str, record: dict[str, Any], verdict: Verdict
) -> Verdict:
    """The I/O of the correction-target check: read the named record, then ask the pure rule
    (`rules.correction_target_problems`); a correction's `corrected_data` must be a valid record of the
    target's type and version."""
    target_id = record["data"].get("target_record_id")
    if not isinstance(target_id, str):
        return verdict
    async with request.app.state.engine.connect() as conn:
        found = await store.find_records(conn, [(department, target_id)])
    target = found.get((department, target_id))
    errors = [*verdict.errors, *rules.correction_target_problems(record, department, target)]
    if (
        target is not None
        and len(errors) == len(verdict.errors)
        and record["type"] == RecordTypeName.RECORD_CORRECTION
        and "corrected_data" in record["data"]
    ):
        errors += ctx.validator.data_problems(
            target.record_type, target.version, record["data"]["corrected_data"], "/data/corrected_data"
        )
    return Verdict(verdict.record_type, verdict.type_version, tuple(errors), verdict.warnings, verdict.forbidden)


async def _check_prior_notice(
    request: Request, department: str, record: dict[str, Any], verdict: Verdict, batch_notices: list[date]
) -> Verdict:
    """A 严重失信 认定 warns when the department reported no 拟列入告知 for the subject before it (001 L654).
    Only a 认定 queries the store, so the other records' hot path stays without a read."""
    async with request.app.state.engine.connect() as conn:
        notices = await store.listing_notices(conn, department, record["subject"]["code"])
    decided = date.fromisoformat(record["decision_date"])
    extra = rules.missing_notice_warning(decided, [*notices, *batch_notices])
    if not extra:
        return verdict
    return Verdict(verdict.record_type, verdict.type_version, verdict.errors, (*verdict.warnings, *extra))


async def _judge(
    request: Request,
    ctx: IngestContext,
    department: str,
    record: Any,
    today: date,
    batch_notices: Mapping[str, list[date]] | None = None,
    *,
    count: bool = True,
    national: bool = False,
) -> Verdict:
    """`batch_notices`: 拟列入告知 accepted earlier in the same batch, by subject code (not yet stored)."""
    verdict = ctx.validator.validate(record, department=department, today=today, national_channel=national)
    if verdict.accepted and verdict.record_type and verdict.record_type.name in TARGETED_TYPES:
        verdict = await _check_correction_target(request, ctx, department, record, verdict)
    if verdict.accepted and verdict.record_type and rules.is_listing_decision(verdict.record_type.name, record["data"]):
        earlier = (batch_notices or {}).get(record["subject"]["code"], [])
        verdict = await _check_prior_notice(request, department, record, verdict, earlier)
    if not verdict.accepted and count:
        named = record.get("type") if isinstance(record, dict) else None
        known = named if isinstance(named, str) and named in ctx.validator.catalogue.record_types else "unknown"
        codes = [verdict.forbidden.code] if verdict.forbidden else sorted({e.code for e in verdict.errors})
        for code in codes:
            ctx.rejections[(department, known, code)] += 1
            REJECTIONS.labels(department, known, code).inc()
    return verdict


def _pending(department: str, record: dict[str, Any], verdict: Verdict) -> Pending:
    assert verdict.record_type is not None
    assert verdict.type_version is not None
    return Pending(department, record, verdict.record_type, verdict.type_version, verdict.warnings)


def _not_durable(exc: NotDurable) -> Response:
    """503 with what happened (not_durable, database_full, database_slow, outcome_unknown; writer.py)."""
    return error_response(503, [ApiError("", exc.code, exc.message)], {"Retry-After": str(exc.retry_after)})


def _outcome_body(outcome: Outcome, record_id: str) -> tuple[int, dict[str, Any]]:
    if outcome.status == 409:
        return 409, problem_body(
            409,
            [
                ApiError(
                    "/id",
                    "conflict",
                    f"id {record_id!r} was already accepted with different content; "
                    "use a new id or send a record_correction",
                )
            ],
        )
    return outcome.status, {"receipt": outcome.receipt}


@router.post("/v1/records", status_code=202, summary="Report one record (报送一条信用记录)")
async def post_record(request: Request) -> Response:
    caller = await authorize(request, DEPARTMENTS)
    ctx = _ctx(request)
    record = await read_json(request, ctx.max_body_bytes)
    assert caller.department is not None
    verdict = await _judge(
        request, ctx, caller.department, record, shanghai_date(ctx.clock.now()), national=is_national_channel(caller)
    )
    if verdict.forbidden:
        raise forbidden(verdict.forbidden.message, verdict.forbidden.path)
    if verdict.errors:
        return error_response(422, [ApiError(e.path, e.code, e.message) for e in verdict.errors])
    try:
        (outcome,) = await ctx.writer.submit([_pending(caller.department, record, verdict)])
    except NotDurable as exc:
        return _not_durable(exc)
    status, body = _outcome_body(outcome, record["id"])
    return FastJSONResponse(body, status_code=status)


@router.post("/v1/records:batch", summary="Report up to 1000 records; valid ones are accepted even if others fail")
async def post_batch(request: Request) -> Response:
    caller = await authorize(request, DEPARTMENTS)
    ctx = _ctx(request)
    body = await read_json(request, ctx.max_body_bytes * 50)
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        return error_response(422, [ApiError("/records", "required", 'the body must be {"records": [...]}')])
    records: list[Any] = body["records"]
    if len(records) > ctx.max_batch:
        return error_response(413, [ApiError("/records", "too_many", f"at most {ctx.max_batch} records per batch")])
    assert caller.department is not None
    today = shanghai_date(ctx.clock.now())
    results: list[dict[str, Any] | None] = [None] * len(records)
    pending: list[tuple[int, Pending]] = []
    notices: dict[str, list[date]] = {}
    for index, record in enumerate(records):
        verdict = await _judge(
            request, ctx, caller.department, record, today, notices, national=is_national_channel(caller)
        )
        if verdict.forbidden:
            results[index] = {"index": index, "status": 403, "errors": [verdict.forbidden.as_dict()]}
        elif verdict.errors:
            results[index] = {"index": index, "status": 422, "errors": [e.as_dict() for e in verdict.errors]}
        else:
            pending.append((index, _pending(caller.department, record, verdict)))
            if verdict.record_type and rules.is_listing_notice(verdict.record_type.name, record["data"]):
                decided = date.fromisoformat(record["decision_date"])
                notices.setdefault(record["subject"]["code"], []).append(decided)
    if pending:
        try:
            outcomes = await ctx.writer.submit([p for _, p in pending])
        except NotDurable as exc:
            return _not_durable(exc)
        for (index, item), outcome in zip(pending, outcomes, strict=True):
            status, payload = _outcome_body(outcome, item.record["id"])
            results[index] = {"index": index, "status": status, **payload}
    return FastJSONResponse({"results": results}, status_code=207)


@router.post(
    "/v1/records:preview",
    summary="What a record would cause, stored nowhere: validation, deadline, publicity, severity, grade, cases",
)
async def post_preview(request: Request) -> Response:
    """A dry run (预览): the record is judged exactly as `POST /v1/records` judges it, then the services'
    own pure rules say what it would cause for its subject. Nothing is stored, no receipt is issued and
    rejection counts do not move; the read of the subject's credit file is access-logged."""
    caller = await authorize(request, DEPARTMENTS)
    ctx = _ctx(request)
    record = await read_json(request, ctx.max_body_bytes)
    assert caller.department is not None
    now = ctx.clock.now()
    today = shanghai_date(now)
    verdict = await _judge(
        request, ctx, caller.department, record, today, count=False, national=is_national_channel(caller)
    )
    if verdict.forbidden:
        raise forbidden(verdict.forbidden.message, verdict.forbidden.path)
    body: dict[str, Any] = {
        "stored": False,
        "validation": {
            "accepted": verdict.accepted,
            "errors": [e.as_dict() for e in verdict.errors],
            "warnings": [w.as_dict() for w in verdict.warnings],
        },
    }
    if not verdict.accepted or ctx.preview_rules is None:
        return FastJSONResponse(body)
    code = record["subject"]["code"]
    async with request.app.state.engine.connect() as conn:
        history = (await records_of_subjects(conn, "grading", [code])).get(code, [])
    await log_access(
        request.app.state.engine,
        schema=store.SCHEMA,
        topic=ctx.audit_topic,
        service="ingest",
        principal=caller,
        what="preview",
        subject=code,
        purpose="报送前预览",
        at=now,
    )
    body.update(preview(ctx.preview_rules, as_accepted(caller.department, record, now), history, today))
    return FastJSONResponse(body)


@router.get("/v1/catalogue", summary="The reporting catalogue in force (public)")
async def get_catalogue(request: Request) -> Response:
    return Response(request.app.state.catalogue_json, media_type="application/json")


@router.get("/v1/receipts/public-key", summary="The exchange's Ed25519 public key for verifying receipts (public)")
async def get_public_key(request: Request) -> Response:
    return Response(request.app.state.public_key_pem, media_type="application/x-pem-file")


@router.get(
    "/v1/receipts/public-keys",
    summary="Every Ed25519 key that signed receipts, by key id (public); a receipt's `key_id` picks one",
)
async def get_public_keys(request: Request) -> Response:
    return Response(request.app.state.public_keys_json, media_type="application/json")


@router.get("/v1/rejections", summary="Rejected records per day, department, type and error code (data quality)")
async def get_rejections(
    request: Request, caller: AnyCaller, department: Annotated[str | None, Query()] = None
) -> Response:
    department = department_scope(caller, department, "a department sees its own rejection counts only")
    async with request.app.state.engine.connect() as conn:
        rows = await store.rejection_counts(conn, department)
    return FastJSONResponse({"rejections": [{**r, "day": r["day"].isoformat()} for r in rows]})


@router.get("/v1/scorecard", summary="Reporting timeliness and accuracy per department for a month (报送考核)")
async def get_scorecard(
    request: Request,
    caller: AnyCaller,
    month: Annotated[str, Query(description="YYYY-MM (Asia/Shanghai)")],
    department: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """Records accepted, reported late (after the 7-calendar-day clock) and rejected by error code, per
    department: the reporting part of the county's scorecard (000 L121). A department sees its own."""
    chosen = month_of(month)
    department = department_scope(caller, department, "a department sees its own scorecard only")
    async with request.app.state.engine.connect() as conn:
        counts = await store.reporting_counts(conn, department, chosen.start, chosen.end, chosen.first, chosen.after)
    rows = []
    for code, entry in sorted(counts.items()):
        rejected = sum(entry["rejections"].values())
        rows.append(
            {
                "department": code,
                "accepted": entry["accepted"],
                "reported_late": entry["reported_late"],
                "late_rate": rate(entry["reported_late"], entry["accepted"]),
                "rejected": rejected,
                "rejection_rate": rate(rejected, rejected + entry["accepted"]),
                "rejections_by_code": dict(sorted(entry["rejections"].items())),
            }
        )
    return FastJSONResponse({"month": chosen.label, "part": "reporting", "departments": rows})


HOT_POSTS = {"/v1/records": post_record, "/v1/records:batch": post_batch}
"""The POSTs the app serves in front of its middleware stack (front.py), by route path."""
