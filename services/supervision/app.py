"""The supervision service (issue 22): app factory (wiring only)."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.calendar import WorkingDayCalendar
from services.common.catalogue import load_catalogue
from services.common.clock import Clock
from services.common.consumer_service import ConsumerParts, create_consumer_app
from services.common.runtime import ServiceRuntime
from services.supervision.api import router
from services.supervision.handlers import SupervisionContext, SupervisionHandler
from services.supervision.manifest import MANIFEST
from services.supervision.pages import router as pages_router
from services.supervision.rules import model
from services.supervision.settings import SupervisionSettings
from services.supervision.store import Store


def create_app(settings: SupervisionSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """Loads the catalogue and the supervision data first: a file with any problem stops the service."""
    settings = settings or SupervisionSettings()
    catalogue = load_catalogue(settings.schemas_dir)
    rules = model.load(settings.schemas_dir, departments=set(catalogue.departments))
    severity = model.load_severity(settings.schemas_dir, rules)
    composite = model.load_composite_table(settings.schemas_dir, rules)
    if composite is not None and composite.department not in catalogue.departments:
        raise ValueError(f"county composite evaluation: department {composite.department!r} not in the catalogue")
    calendar = WorkingDayCalendar.load(settings.schemas_dir / "calendar" / "overrides.yaml")
    measures = model.load_measures(settings.schemas_dir, set(catalogue.departments), rules)

    def build(app: FastAPI, runtime: ServiceRuntime, clock: Clock) -> ConsumerParts:
        ctx = SupervisionContext(
            engine=runtime.engine,
            store=Store(settings.db_schema),
            rules=rules,
            clock=clock,
            outcome_topic=settings.topic("outcomes.supervision"),
            audit_topic=settings.topic("audit.access"),
            calendar=calendar,
            severity=severity,
            composite=composite,
            plan_part_bytes=settings.plan_part_bytes,
            measures=measures,
            wake=runtime.wake,
        )
        app.state.supervision = ctx
        handler = SupervisionHandler(ctx)
        return ConsumerParts(handle=handler.handle, handle_batch=handler.handle_batch, on_tick=handler.on_tick)

    return create_consumer_app(
        manifest=MANIFEST,
        service=settings.instance,
        schema=settings.db_schema,
        settings=settings,
        build=build,
        routers=[router, pages_router],
        title="Credit exchange — supervision (信用监管)",
        description=(
            "以信用为基础的新型监管: 双随机 plans drawn by grade and level, patrol-due lists, evaluation "
            "consequences and escalation proposals (never decisions)."
        ),
        clock=clock,
        pool_size=settings.pool_size,
        tick_seconds=settings.tick_seconds,
        redrive=settings.instance == "supervision",
    )


def factory() -> FastAPI:
    return create_app()
