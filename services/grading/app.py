"""The grading service: app factory (wiring only)."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.clock import Clock, SystemClock
from services.common.consumer_service import ConsumerParts, create_consumer_app
from services.common.runtime import ServiceRuntime
from services.grading.api import router
from services.grading.handlers import (
    SCHEMA,
    GradingContext,
    batch_record_handler,
    load_context,
    record_handler,
    review_handler,
)
from services.grading.manifest import MANIFEST
from services.grading.settings import GradingSettings


def create_app(settings: GradingSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or GradingSettings()
    the_clock = clock or SystemClock()
    # Rule files load once, here: a broken rule-set file stops the service before any connection.
    ctx = load_context(settings, the_clock)

    def build_loaded(app: FastAPI, runtime: ServiceRuntime, _clock: Clock) -> ConsumerParts:
        return parts(app, runtime, ctx)

    return create_consumer_app(
        manifest=MANIFEST,
        service="grading",
        schema=SCHEMA,
        settings=settings,
        build=build_loaded,
        routers=[router],
        title="Credit exchange — grading (信用分级分类)",
        description=(
            "Credit grades computed from each subject's records under versioned rule sets (DOMAIN §5), as of "
            "any date, each with its explanation. Not public: department, county and auditor tokens only; "
            "every read is logged."
        ),
        clock=the_clock,
        pool_size=settings.pool_size,
        tick_seconds=settings.tick_seconds,
    )


def build(app: FastAPI, runtime: ServiceRuntime, clock: Clock) -> ConsumerParts:
    """Load the rule sets and the jurisdiction setting (RuleSetError names the file and key and stops the
    start), put them on `app.state.grading`, and return the record handler and the time-driven review."""
    return parts(app, runtime, load_context(runtime.settings, clock))


def parts(app: FastAPI, runtime: ServiceRuntime, ctx: GradingContext) -> ConsumerParts:
    app.state.grading = ctx
    return ConsumerParts(
        handle=record_handler(ctx),
        handle_batch=batch_record_handler(ctx),
        on_tick=review_handler(ctx, runtime.engine, after_commit=runtime.wake),
    )


def factory() -> FastAPI:
    return create_app()
