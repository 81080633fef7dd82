"""The bridge service: app factory (wiring only). Consumes every outcome topic but the access log."""

from __future__ import annotations

import contextlib
import logging

from fastapi import FastAPI

from services.bridge import store
from services.bridge.api import router
from services.bridge.handlers import BridgeContext, batch_handler, single_handler
from services.bridge.inbound import InboundImporter
from services.bridge.manifest import MANIFEST
from services.bridge.province import ProvincePusher
from services.bridge.secret_box import SecretBox, SecretKeyError, seal_stored
from services.bridge.settings import BridgeSettings
from services.bridge.store import SCHEMA
from services.bridge.wakeup import Wakeup
from services.bridge.webhooks import Dispatcher
from services.common import metrics
from services.common.calendar import WorkingDayCalendar
from services.common.catalogue import load_catalogue
from services.common.clock import Clock
from services.common.consumer_service import ConsumerParts, create_consumer_app
from services.common.runtime import ServiceRuntime
from services.common.tasks import sleep_or_stop

log = logging.getLogger(__name__)


def create_app(settings: BridgeSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or BridgeSettings()
    return create_consumer_app(
        manifest=MANIFEST,
        service="bridge",
        schema=SCHEMA,
        settings=settings,
        build=build,
        routers=[router],
        title="Credit exchange — bridge (结果订阅、推送与省级平台对接)",
        description=(
            "Every outcome in one HTTP feed, webhook subscriptions (CloudEvents over HTTP, Standard Webhooks "
            "signatures) with a delivery log, and the bridge to the provincial platform (service push, dated "
            "file, daily reconciliation). Department, county and auditor tokens only."
        ),
        clock=clock,
        pool_size=settings.pool_size,
        tick_seconds=settings.tick_seconds,
    )


def build(app: FastAPI, runtime: ServiceRuntime, clock: Clock) -> ConsumerParts:
    settings = runtime.settings
    assert isinstance(settings, BridgeSettings)
    catalogue = load_catalogue(settings.schemas_dir)
    ctx = BridgeContext(
        clock=clock,
        calendar=WorkingDayCalendar.load(settings.schemas_dir / "calendar" / "overrides.yaml"),
        uscc={code: d.uscc for code, d in catalogue.departments.items()},
        withdrawal_working_days=settings.service_levels.withdrawal_working_days,
    )
    app.state.bridge = ctx
    wakeup = Wakeup()
    app.state.wakeup = wakeup
    app.state.secret_box = box = SecretBox.from_text(settings.secrets_key_text())
    dispatcher = Dispatcher(runtime.engine, settings, clock, wakeup)
    pusher = ProvincePusher(runtime.engine, settings, clock, wakeup)
    importer = InboundImporter(runtime.engine, settings, clock, wakeup)
    app.state.dispatcher = dispatcher
    app.state.province = pusher
    app.state.inbound = importer
    app.state.catalogue = catalogue
    runtime.spawn("listen", wakeup.listen(settings.asyncpg_dsn, runtime.stop))
    runtime.spawn("webhooks", dispatcher.run(runtime.stop))
    runtime.spawn("province", pusher.run(runtime.stop))
    runtime.spawn("inbound", importer.run(runtime.stop))
    runtime.spawn("backlog", sample_backlogs(runtime, settings.backlog_sample_seconds))
    runtime.spawn("seal-secrets", seal_at_start(runtime, box), once=True)
    return ConsumerParts(handle=single_handler(ctx), handle_batch=batch_handler(ctx))


async def sample_backlogs(runtime: ServiceRuntime, every_seconds: float) -> None:
    """Keep the delivery backlog gauges true, as the outbox backlog is kept (a paused subscription's or an
    unreachable province's backlog is exactly what the dispatcher cannot see while it waits)."""
    while not runtime.stop.is_set():
        with contextlib.suppress(Exception):  # the database may be down; /readyz says so
            async with runtime.engine.connect() as conn:
                webhooks, province = await store.backlogs(conn)
            for state, pending in webhooks.items():
                metrics.WEBHOOK_BACKLOG.labels(state).set(pending)
            metrics.PROVINCE_BACKLOG.set(province)
        await sleep_or_stop(runtime.stop, every_seconds)


async def seal_at_start(runtime: ServiceRuntime, box: SecretBox) -> None:
    """Seal the webhook secrets older versions stored in clear (and re-seal under a rotated key) once the
    database answers; until then the dispatcher reads both forms."""
    delay = 1.0
    while not runtime.stop.is_set():
        try:
            await seal_stored(runtime.engine, box)
            return
        except SecretKeyError:
            raise  # a stored secret no configured key opens: said in the log, and not ready
        except Exception as exc:  # the database is not there yet; /readyz says so
            log.warning("webhook secrets not sealed yet", extra={"error": type(exc).__name__, "retry_s": delay})
        await sleep_or_stop(runtime.stop, delay)
        delay = min(delay * 2, 30.0)


def factory() -> FastAPI:
    return create_app()
