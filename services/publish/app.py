"""The publish service: app factory (wiring only)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.middleware import Middleware

from services.common.bodylimit import BodyLimit
from services.common.calendar import WorkingDayCalendar
from services.common.catalogue import load_catalogue
from services.common.clock import Clock, shanghai_date
from services.common.consumer_service import ConsumerParts, create_consumer_app
from services.common.ratelimit import Limit, RateLimitMiddleware, parse_networks, rule
from services.common.runtime import ServiceRuntime
from services.publish import commitment_pages, portal
from services.publish.api import SEARCH_PATH, router
from services.publish.context import PublishContext
from services.publish.handlers import Publisher
from services.publish.manifest import MANIFEST
from services.publish.public_cache import PublicCache, PublicCacheFastPath
from services.publish.public_search import SearchFastPath
from services.publish.rules import load_publicity_rules
from services.publish.settings import PublishSettings
from services.publish.store import SCHEMA, PublicReads

log = logging.getLogger(__name__)

# The public JSON API (API.md "Publish", no token): rate-limited per client address. The portal's HTML
# form has its own limit (portal.RateLimit); department views are behind tokens and not limited here.
PUBLIC_API_RULES = (
    rule("GET", "/v1/disclosures", "read"),
    rule("GET", "/v1/disclosures/{record_id}", "read"),
    rule("GET", "/v1/objections/{objection_id}", "read"),
    rule("GET", "/v1/repairs/{repair_id}", "read"),
    rule("POST", "/v1/objections", "write"),
    rule("POST", "/v1/repairs", "write"),
)


def public_limits(settings: PublishSettings) -> dict[str, Limit]:
    """The buckets of ``PUBLIC_API_RULES``: reads and writes, per client address (``PUBLISH_PUBLIC_*``)."""
    return {
        "read": Limit(settings.public_read_per_minute, settings.public_read_burst),
        "write": Limit(settings.public_write_per_minute, settings.public_write_burst),
    }


def create_app(settings: PublishSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or PublishSettings()
    portal.link_reports(settings.reports_url)
    # Rule files load once, here: a broken file stops the service before any connection is opened.
    catalogue = load_catalogue(settings.schemas_dir)
    publicity = load_publicity_rules(settings.schemas_dir)
    calendar = WorkingDayCalendar.load(settings.schemas_dir / "calendar" / "overrides.yaml")

    def build(app: FastAPI, runtime: ServiceRuntime, the_clock: Clock) -> ConsumerParts:
        ctx = PublishContext(
            engine=runtime.engine,
            settings=settings,
            clock=the_clock,
            catalogue=catalogue,
            publicity=publicity,
            calendar=calendar,
            reads=PublicReads(settings.asyncpg_dsn, size=settings.pool_size),
            public_cache=PublicCache(max_bytes=settings.public_cache_bytes if settings.public_cache else 0),
        )
        runtime.spawn("public-reads", _close_at_stop(ctx.reads, runtime.stop))
        ctx.refresh_calendar()  # remembers the file's stamp, so a later edit is noticed
        ctx.wake = runtime.wake
        warning = ctx.calendar.missing_year_warning(shanghai_date(the_clock.now()))
        if warning:
            log.warning(warning, extra={"alert": "calendar_year_missing"})
        app.state.publish = ctx
        publisher = Publisher(ctx)
        return ConsumerParts(handle=publisher.handle, handle_batch=publisher.handle_batch, on_tick=publisher.on_tick)

    app = create_consumer_app(
        manifest=MANIFEST,
        service="publish",
        schema=SCHEMA,
        settings=settings,
        build=build,
        routers=[router, portal.router, commitment_pages.router],
        title="Credit exchange — publish (信用公示)",
        description=(
            "Disclosure of 双公示 records within 7 working days, publicity periods (公示期限), objections (异议). "
            "Public record ids are `<department>.<department's record id>`, e.g. `AMR.AMR-2026-000123`."
        ),
        clock=clock,
        pool_size=settings.pool_size,
        tick_seconds=settings.tick_seconds,
    )

    def cache_parts() -> tuple[PublicCache, PublicReads] | None:
        ctx: PublishContext | None = getattr(app.state, "publish", None)
        return (ctx.public_cache, ctx.reads) if ctx is not None else None

    def context() -> PublishContext | None:
        ctx: PublishContext | None = getattr(app.state, "publish", None)
        return ctx

    search_route = next(r for r in router.routes if isinstance(r, APIRoute) and r.path == SEARCH_PATH)
    # Innermost (appended, not added): searches and cache hits skip FastAPI's routing but are still
    # rate-limited, size-limited, given a request id and counted by the request metrics.
    # The cache's fast path first: a repeated exact request is a hit without being parsed.
    app.user_middleware.append(Middleware(PublicCacheFastPath, parts=cache_parts))
    app.user_middleware.append(Middleware(SearchFastPath, ctx=context, route=search_route))
    # Added last, so outermost: a refused request costs neither a body read nor a database query.
    app.add_middleware(BodyLimit, max_bytes=settings.public_max_body_bytes, prefixes=("/v1/",))
    app.add_middleware(
        RateLimitMiddleware,
        service="publish",
        rules=PUBLIC_API_RULES,
        limits=public_limits(settings),
        exempt=parse_networks(settings.rate_limit_exempt),
    )
    return app


async def _close_at_stop(reads: PublicReads, stop: asyncio.Event) -> None:
    await stop.wait()
    await reads.close()


def factory() -> FastAPI:
    return create_app()
