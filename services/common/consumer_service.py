"""The app factory shared by the consuming services (grading, sanctions, publish): runtime, outbox
relay, the consumer loop on the record topics, the time ticker, health, metrics and error handling.

Each service passes its routers and a `build(app, runtime, clock)` that loads its rules, puts what its
endpoints need on `app.state`, and returns its message handler and optional tick.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from fastapi_offline import FastAPIOffline

from services.common.catalogue import load_catalogue
from services.common.clock import Clock, SystemClock
from services.common.consumer import BatchHandler, Handler
from services.common.dlq import redrive_topic
from services.common.http import NO_OPEN_TELEMETRY, FastJSONResponse, install_error_handlers, install_health
from services.common.manifest import Manifest
from services.common.metrics import RequestMetrics
from services.common.openapi import DOCS_PARAMETERS, install_openapi
from services.common.runtime import ConsumerSpec, ServiceRuntime
from services.common.settings import CommonSettings
from services.common.ticker import OnTick, run_ticker


@dataclass
class ConsumerParts:
    handle: Handler
    handle_batch: BatchHandler | None = None
    """If given, the live consumer applies each poll's new events through it instead of `handle`. Sanctions,
    publish and supervision have only this path (their `handle` is a poll of one); grading's `handle` is what
    the audit replay applies one event at a time (the two must have the same effect)."""
    on_tick: OnTick | None = None


Build = Callable[[FastAPI, ServiceRuntime, Clock], ConsumerParts]


def record_topic_names(settings: CommonSettings) -> tuple[str, ...]:
    catalogue = load_catalogue(settings.schemas_dir)
    return tuple(name for name, topic in sorted(catalogue.topics.items()) if topic.kind == "record")


def record_topics(settings: CommonSettings) -> list[str]:
    return [settings.topic(name) for name in record_topic_names(settings)]


def subscriptions(manifest: Manifest, settings: CommonSettings, *, service: str, redrive: bool) -> list[str]:
    """The Kafka topics the consumer reads: what the manifest declares, and its own re-drive topic (dead
    letters an operator sends back after a fix). Nothing else: a service cannot subscribe past its manifest."""
    topics = [settings.topic(name) for name in manifest.consumed(record_topic_names(settings))]
    return [*topics, *([redrive_topic(settings.topic_prefix, service)] if redrive else [])]


def create_consumer_app(
    *,
    manifest: Manifest,
    service: str,
    schema: str,
    settings: CommonSettings,
    build: Build,
    routers: Sequence[APIRouter],
    title: str,
    description: str,
    clock: Clock | None = None,
    pool_size: int = 10,
    tick_seconds: float = 60.0,
    redrive: bool = True,
) -> FastAPI:
    """``redrive``: also consume ``redrive.<service>`` (the service's own instances; not a rebuild beside it,
    for which no such topic exists)."""
    topics = subscriptions(manifest, settings, service=service, redrive=redrive)
    the_clock = clock or SystemClock()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await ServiceRuntime.start(service, schema, settings, pool_size=pool_size)
        app.state.runtime = runtime
        app.state.engine = runtime.engine
        app.state.authenticator = runtime.authenticator()
        app.state.clock = the_clock
        app.state.settings = settings
        try:
            runtime.start_relay()
            parts = build(app, runtime, the_clock)
            runtime.start_consumer(
                ConsumerSpec(
                    group_id=f"{settings.topic_prefix}{service}",
                    topics=topics,
                    handle=parts.handle,
                    handle_batch=parts.handle_batch,
                )
            )
            if parts.on_tick is not None:
                runtime.spawn(
                    "ticker",
                    run_ticker(parts.on_tick, clock=the_clock, every_seconds=tick_seconds, stop=runtime.stop),
                )
            yield
        finally:
            await runtime.close()

    # Swagger UI / ReDoc assets served by the service itself (no CDN: county networks have no internet).
    app = FastAPIOffline(
        title=title,
        version="1",
        description=description,
        default_response_class=FastJSONResponse,
        lifespan=lifespan,
        telemetry=NO_OPEN_TELEMETRY,
        swagger_ui_parameters=DOCS_PARAMETERS,
    )
    app.state.manifest = manifest
    app.state.subscriptions = tuple(topics)
    install_error_handlers(app)
    install_health(
        app, service=service, ready_checks=lambda: _ready(app), dependencies=lambda: app.state.runtime.dependencies
    )
    for router in routers:
        app.include_router(router)
    app.add_middleware(RequestMetrics, service=service)
    install_openapi(app, service=service, schemas_dir=settings.schemas_dir)
    return app


async def _ready(app: FastAPI) -> dict[str, str]:
    runtime: ServiceRuntime = app.state.runtime
    problems = await runtime.ready_problems()
    if not runtime.consumer_ready:
        problems["consumer"] = "not yet subscribed to the record topics"
    runtime.dependencies["consumer"] = problems.get("consumer", "ok")
    return problems
