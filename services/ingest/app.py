"""The ingest service: FastAPI app factory and lifespan (wiring only)."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator

import orjson
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from services.common.calendar import WorkingDayCalendar
from services.common.calendar_alert import watch_calendar
from services.common.catalogue import load_catalogue
from services.common.clock import Clock, SystemClock, shanghai_date
from services.common.http import NO_OPEN_TELEMETRY, FastJSONResponse, install_error_handlers, install_health
from services.common.jurisdiction import load_service_levels
from services.common.metrics import RequestMetrics
from services.common.openapi import DOCS_PARAMETERS, install_openapi
from services.common.runtime import ServiceRuntime
from services.common.tasks import sleep_or_stop
from services.ingest import keyring, store
from services.ingest.api import IngestContext, router
from services.ingest.openapi import record_examples
from services.ingest.readback import router as readback_router
from services.ingest.receipts import ReceiptSigner
from services.ingest.settings import IngestSettings
from services.ingest.validation import RecordValidator
from services.ingest.writer import ReceiptWriter

SERVICE = "ingest"


def create_app(settings: IngestSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    clock = clock or SystemClock()
    catalogue = load_catalogue(settings.schemas_dir)
    validator = RecordValidator(catalogue, settings.schemas_dir)
    calendar = WorkingDayCalendar.load(settings.schemas_dir / "calendar" / "overrides.yaml")
    levels = load_service_levels(settings.schemas_dir)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await ServiceRuntime.start(SERVICE, store.SCHEMA, settings, pool_size=settings.pool_size)
        runtime.kafka_required = False
        signer = ReceiptSigner.from_file(settings.signing_key_file)
        relay = runtime.start_relay()
        writer = ReceiptWriter(
            runtime.engine,
            signer=signer,
            calendar=calendar,
            clock=clock,
            topic_name=settings.topic,
            on_commit=relay.wake,
            reporting_days=levels.reporting_days,
            max_batch=2 * settings.max_batch,
            commit_timeout=settings.commit_timeout_seconds,
        )
        rejections: Counter[tuple[str, str, str]] = Counter()
        app.state.runtime = runtime
        app.state.engine = runtime.engine
        app.state.authenticator = runtime.authenticator()
        app.state.public_key_pem = signer.public_key_pem()
        with contextlib.suppress(OSError):  # a read-only key mount: the operator publishes keys there
            keyring.publish(settings.signing_key_file, signer.public_key)
        keys = keyring.published_keys(settings.signing_key_file, settings.public_keys_dir)
        app.state.public_keys_json = orjson.dumps(keyring.keyset_json(keys, signer.key_id))
        app.state.ingest = IngestContext(
            validator,
            writer,
            clock,
            settings.max_body_bytes,
            settings.max_batch,
            rejections,
            audit_topic=settings.topic("audit.access"),
        )
        runtime.spawn("writer", writer.run(runtime.stop))
        runtime.spawn("rejection-counts", _flush_rejections(runtime, rejections, clock))
        runtime.spawn("calendar-alert", watch_calendar(calendar, clock, runtime.stop, settings.calendar_check_seconds))
        try:
            yield
        finally:
            await runtime.close()

    # Swagger UI / ReDoc assets served by the service itself (no CDN: county networks have no internet).
    app = FastAPIOffline(
        title="Credit exchange — ingest (信用信息报送)",
        version="1",
        description=(
            "Departments report credit records here. Every record is validated against the reporting "
            "catalogue (`GET /v1/catalogue`), stored durably and answered with a signed receipt."
        ),
        default_response_class=FastJSONResponse,
        lifespan=lifespan,
        telemetry=NO_OPEN_TELEMETRY,
        swagger_ui_parameters=DOCS_PARAMETERS,
    )
    app.state.catalogue_json = orjson.dumps(catalogue.public_view())
    install_error_handlers(app)
    app.include_router(router)  # first: routes are matched in order, and POST /v1/records is the hot one
    app.include_router(readback_router)
    install_health(
        app,
        service=SERVICE,
        ready_checks=lambda: app.state.runtime.ready_problems(),
        dependencies=lambda: app.state.runtime.dependencies,
    )
    app.add_middleware(RequestMetrics, service=SERVICE)
    envelope = json.loads((settings.schemas_dir / "envelope.json").read_text())
    install_openapi(
        app, service=SERVICE, schemas_dir=settings.schemas_dir, extend=record_examples(settings.schemas_dir, envelope)
    )
    return app


async def _flush_rejections(runtime: ServiceRuntime, counts: Counter[tuple[str, str, str]], clock: Clock) -> None:
    """Persist rejection counts every few seconds (counts only: rejected personal data is never stored)."""
    while not runtime.stop.is_set():
        await sleep_or_stop(runtime.stop, 2.0)
        if not counts:
            continue
        snapshot = dict(counts)
        counts.clear()
        try:
            async with runtime.engine.begin() as conn:
                await store.add_rejections(conn, shanghai_date(clock.now()), snapshot)
        except Exception:
            counts.update(snapshot)  # keep them for the next attempt


def factory() -> FastAPI:
    return create_app()
