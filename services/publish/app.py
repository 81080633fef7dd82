"""The publish service: app factory (wiring only)."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.clock import Clock
from services.common.consumer_service import ConsumerParts, create_consumer_app
from services.common.runtime import ServiceRuntime
from services.publish.handlers import SCHEMA, handle
from services.publish.settings import PublishSettings


def create_app(settings: PublishSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or PublishSettings()
    return create_consumer_app(
        service="publish",
        schema=SCHEMA,
        settings=settings,
        build=build,
        routers=[],
        title="Credit exchange — publish (信用公示)",
        description="Disclosure of 双公示 records within 7 working days, publicity periods, objections, credit repair.",
        clock=clock,
        pool_size=settings.pool_size,
    )


def build(app: FastAPI, runtime: ServiceRuntime, clock: Clock) -> ConsumerParts:
    return ConsumerParts(handle=handle)


def factory() -> FastAPI:
    return create_app()
