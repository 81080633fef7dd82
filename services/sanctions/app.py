"""The sanctions service: app factory (wiring only)."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.clock import Clock
from services.common.consumer_service import ConsumerParts, create_consumer_app
from services.common.runtime import ServiceRuntime
from services.sanctions.handlers import SCHEMA, handle
from services.sanctions.settings import SanctionsSettings


def create_app(settings: SanctionsSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or SanctionsSettings()
    return create_consumer_app(
        service="sanctions",
        schema=SCHEMA,
        settings=settings,
        build=build,
        routers=[],
        title="Credit exchange — sanctions (联合奖惩)",
        description="Joint rewards and sanctions: cases, instructions, feedback, and restriction checks (应查必查).",
        clock=clock,
        pool_size=settings.pool_size,
    )


def build(app: FastAPI, runtime: ServiceRuntime, clock: Clock) -> ConsumerParts:
    return ConsumerParts(handle=handle)


def factory() -> FastAPI:
    return create_app()
