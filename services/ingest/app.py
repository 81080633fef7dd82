"""The ingest service: FastAPI app factory and lifespan (wiring only)."""

from __future__ import annotations

import contextlib
import gc
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from services.common import metrics
from services.common.calendar import WorkingDayCalendar
from services.common.calendar_alert import watch_calendar
from services.common.catalogue import Catalogue, load_catalogue
from services.common.clock import Clock, SystemClock, shanghai_date
from services.common.db import asyncpg_dsn
from services.common.http import NO_OPEN_TELEMETRY, FastJSONResponse, install_error_handlers, install_health
from services.common.jurisdiction import load_service_levels
from services.common.metrics import RequestMetrics
from services.common.openapi import DOCS_PARAMETERS, install_openapi
from services.common.runtime import ServiceRuntime, configure_worker
from services.common.tasks import sleep_or_stop
from services.ingest import keyring, store
from services.ingest.api import HOT_POSTS, IngestContext, router
from services.ingest.front import HotPosts
from services.ingest.openapi import record_examples
from services.ingest.preview import PreviewRules
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
    preview_rules = load_preview_rules(settings.schemas_dir, catalogue, calendar)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await ServiceRuntime.start(SERVICE, store.SCHEMA, settings, pool_size=settings.pool_size)
        runtime.kafka_required = False
        signer = ReceiptSigner.from_file(settings.signing_key_file)
        # Worker processes and replicas share one leading relay (advisory lock); commits notify it.
        relay = runtime.start_relay(listen=store.OUTBOX_CHANNEL)
        writer = ReceiptWriter(
            asyncpg_dsn(settings.database_url),
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
            preview_rules=preview_rules,
            audit_topic=settings.topic("audit.access"),
        )
        runtime.spawn("writer", writer.run(runtime.stop))
        runtime.spawn("rejection-counts", _flush_rejections(runtime, rejections, clock))
        runtime.spawn("calendar-alert", watch_calendar(calendar, clock, runtime.stop, settings.calendar_check_seconds))
        metrics.worker_started()
        # Everything made so far (modules, catalogue, validators, the services' rule sets) lives as long as
        # the process: out of the collector's reach, a full collection walks only what requests made since.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await runtime.close()
            metrics.worker_stopped()

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
    app.include_router(router)
    app.include_router(readback_router)
    install_health(
        app,
        service=SERVICE,
        ready_checks=lambda: app.state.runtime.ready_problems(),
        dependencies=lambda: app.state.runtime.dependencies,
    )
    app.add_middleware(RequestMetrics, service=SERVICE)
    # The two ingest POSTs take nothing but the Request (they read, authorize and answer by themselves), so
    # they are answered in front of the request middleware and the router (front.py); their FastAPI routes
    # in `router` describe them in the OpenAPI document (unchanged).
    app.add_middleware(HotPosts, service=SERVICE, endpoints=HOT_POSTS)
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


def load_preview_rules(schemas_dir: Path, catalogue: Catalogue, calendar: WorkingDayCalendar) -> PreviewRules:
    """The services' own rule files, loaded by their own loaders (a broken file stops ingest at start too)."""
    from services.grading.rules.loader import JURISDICTION_FILE, load_jurisdiction, load_rule_sets
    from services.publish.rules import load_publicity_rules
    from services.sanctions.rules import load_measure_list
    from services.sanctions.rules.measures import MEASURES_FILE

    rule_sets = load_rule_sets(schemas_dir)
    jurisdiction = load_jurisdiction(schemas_dir / JURISDICTION_FILE, rule_sets)
    return PreviewRules(
        catalogue=catalogue,
        publicity=load_publicity_rules(schemas_dir),
        calendar=calendar,
        rule_sets=rule_sets,
        grading_rule_set=jurisdiction.grading_rule_set,
        measures=load_measure_list(schemas_dir / MEASURES_FILE, departments=catalogue.departments),
    )


def factory() -> FastAPI:
    settings = IngestSettings()
    configure_worker(SERVICE, settings)
    return create_app(settings)
