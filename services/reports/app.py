"""The reports service: app factory (wiring only)."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.bodylimit import BodyLimit
from services.common.clock import Clock, SystemClock
from services.common.consumer_service import ConsumerParts, create_consumer_app
from services.common.ratelimit import Limit, RateLimitMiddleware, parse_networks, rule
from services.common.runtime import ServiceRuntime
from services.reports import portal
from services.reports.api import router
from services.reports.context import load_context
from services.reports.handlers import batch_handler, handler
from services.reports.manifest import MANIFEST
from services.reports.settings import ReportsSettings
from services.reports.store import SCHEMA

# Public endpoints, limited per client address (SECURITY.md "Rate limits"): issuing costs a PDF rendering,
# so it has a tight bucket; verification is cheap and gets a wide one.
PUBLIC_RULES = (
    rule("POST", "/v1/subjects/{code}/reports", "issue"),
    rule("POST", "/portal/reports", "issue"),
    rule("GET", "/v1/reports/{number}/verification", "verify"),
    rule("POST", "/v1/reports:verify", "verify"),
    rule("GET", "/verify", "verify"),
    rule("POST", "/verify", "verify"),
)


def create_app(settings: ReportsSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or ReportsSettings()
    the_clock = clock or SystemClock()
    load_context(settings, the_clock)  # a broken catalogue, measure list or key stops here

    def build(app: FastAPI, runtime: ServiceRuntime, c: Clock) -> ConsumerParts:
        app.state.reports = load_context(settings, c)
        app.state.portal_url = settings.portal_url
        return ConsumerParts(
            handle=handler(SCHEMA),
            handle_batch=batch_handler(SCHEMA),
        )

    app = create_consumer_app(
        manifest=MANIFEST,
        service="reports",
        schema=SCHEMA,
        settings=settings,
        build=build,
        routers=[router, portal.router],
        title="Credit exchange — reports (信用记录核查 · 信用报告 · 专项信用报告)",
        description=(
            "Numbered, signed credit reports (HTML and PDF) of a subject as of a date for a purpose, their public "
            "verification, and batch checks for tenders and procurement (应查必查)."
        ),
        clock=the_clock,
        pool_size=settings.pool_size,
    )
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_upload_bytes + 65_536, prefixes=("/v1/", "/verify", "/portal/")
    )
    app.add_middleware(
        RateLimitMiddleware,
        service="reports",
        rules=PUBLIC_RULES,
        limits={
            "issue": Limit(settings.public_report_per_minute, settings.public_report_burst),
            "verify": Limit(settings.public_verify_per_minute, settings.public_verify_burst),
        },
        exempt=parse_networks(settings.rate_limit_exempt),
    )
    return app


def factory() -> FastAPI:
    return create_app()
