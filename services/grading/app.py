"""The grading service: app factory (wiring only)."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.clock import Clock
from services.common.consumer_service import ConsumerParts, create_consumer_app
from services.common.runtime import ServiceRuntime
from services.grading.handlers import SCHEMA, handle
from services.grading.settings import GradingSettings


def create_app(settings: GradingSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or GradingSettings()
    return create_consumer_app(
        service="grading",
        schema=SCHEMA,
        settings=settings,
        build=build,
        routers=[],
        title="Credit exchange — grading (信用分级分类)",
        description="Credit grades computed from each subject's records under versioned rule sets.",
        clock=clock,
        pool_size=settings.pool_size,
    )


def build(app: FastAPI, runtime: ServiceRuntime, clock: Clock) -> ConsumerParts:
    return ConsumerParts(handle=handle)


def factory() -> FastAPI:
    return create_app()
