"""The sanctions service: app factory (wiring only)."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.catalogue import load_catalogue
from services.common.clock import Clock
from services.common.consumer_service import ConsumerParts, create_consumer_app
from services.common.runtime import ServiceRuntime
from services.grading.rules import load_rule_sets
from services.sanctions.api import router
from services.sanctions.handlers import SanctionsContext, SanctionsHandler
from services.sanctions.manifest import MANIFEST
from services.sanctions.rules import load_measure_list
from services.sanctions.rules.measures import MEASURES_FILE, check_evaluation_triggers
from services.sanctions.settings import SanctionsSettings
from services.sanctions.store import Store
from services.supervision.rules import model as supervision_data
from services.supervision.rules.evaluations import scale_grades


def create_app(settings: SanctionsSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """Loads the catalogue and the measure list first: a list with any problem stops the service."""
    settings = settings or SanctionsSettings()
    catalogue = load_catalogue(settings.schemas_dir)
    measure_list = load_measure_list(settings.schemas_dir / MEASURES_FILE, departments=catalogue.departments)
    rule_sets = load_rule_sets(settings.schemas_dir)  # what an adverse record is (clean_record_3y)
    # The evaluation scales and the composite evaluation the `evaluation:` measures name (one source: the
    # supervision data; what a grade brings is only the measure list's).
    scales = supervision_data.load(settings.schemas_dir, departments=set(catalogue.departments))
    composite = supervision_data.load_composite_table(settings.schemas_dir, scales)
    grades = {name: scale.grades for name, scale in scales.evaluation_scales.items()}
    check_evaluation_triggers(measure_list, scale_grades(grades, composite))
    severity = supervision_data.load_severity(settings.schemas_dir, scales)

    def build(app: FastAPI, runtime: ServiceRuntime, clock: Clock) -> ConsumerParts:
        ctx = SanctionsContext(
            engine=runtime.engine,
            store=Store(settings.db_schema),
            measure_list=measure_list,
            clock=clock,
            outcome_topic=settings.topic("outcomes.sanctions"),
            audit_topic=settings.topic("audit.access"),
            rule_sets=rule_sets,
            wake=runtime.wake,
            composite=composite,
            severity=severity,
        )
        app.state.sanctions = ctx
        handler = SanctionsHandler(ctx)
        return ConsumerParts(
            handle=handler.handle,
            handle_batch=handler.handle_batch,
            on_tick=handler.on_tick,
        )

    return create_consumer_app(
        manifest=MANIFEST,
        service=settings.instance,
        schema=settings.db_schema,
        settings=settings,
        build=build,
        routers=[router],
        title="Credit exchange — sanctions (联合奖惩)",
        description=(
            "Joint rewards and sanctions (发起 → 响应 → 反馈): cases opened by listings and grades, one "
            "instruction per implementing department with its feedback state, and restriction checks (应查必查)."
        ),
        clock=clock,
        pool_size=settings.pool_size,
        tick_seconds=settings.tick_seconds,
        redrive=settings.instance == "sanctions",  # a rebuild instance has no re-drive topic of its own
    )


def factory() -> FastAPI:
    return create_app()
