"""`exchange audit replay` (DOMAIN §10): grading, sanctions, publish and supervision rebuilt from offset 0 of
the topics into scratch schemas (publish: a scratch database), through the services' own handlers and as of
the live date, equal the live state (supervision's plan included, from its published draw); a live row
altered behind the services' back is reported as a difference.

Sanctions has one path, a poll at once, and the replay applies other batches than the live polls: the
scenario includes what could tell them apart (a grade re-announced from the same day, once in a later poll
and once right after the first announcement, whose first case exists only in between)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.stack import Stack
from services.audit.replay import ReplayReport, print_replay, replay
from services.audit.topic_reader import read_all
from services.common.clock import FixedClock
from services.common.consumer_service import record_topics
from services.common.db import create_engine
from services.common.envelope import CloudEvent
from services.common.settings import CommonSettings
from tests import factories
from tests.helpers import eventually, served_in_process
from tests.integration.grading import support as grading_support
from tests.integration.sanctions import support as sanctions_support

SERVICES = ("grading", "sanctions", "publish", "supervision")


@pytest.fixture(scope="module")
async def services(
    stack_env: dict[str, str], clock: FixedClock, tokens: dict[str, str]
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """The live grading, sanctions, publish and supervision consumers in-process, on the session's fixed
    clock; the publish client files objections as a subject would, the supervision client makes a plan."""
    from services.grading.app import create_app as grading_app
    from services.grading.settings import GradingSettings
    from services.publish.app import create_app as publish_app
    from services.publish.settings import PublishSettings
    from services.sanctions.app import create_app as sanctions_app
    from services.sanctions.settings import SanctionsSettings
    from services.supervision.app import create_app as supervision_app
    from services.supervision.settings import SupervisionSettings

    grading = grading_app(GradingSettings(tick_seconds=0.2), clock=clock)
    sanctions = sanctions_app(SanctionsSettings(tick_seconds=0.2), clock=clock)
    publish = publish_app(PublishSettings(tick_seconds=0.2), clock=clock)
    supervision = supervision_app(SupervisionSettings(tick_seconds=0.2), clock=clock)
    async with (
        grading.router.lifespan_context(grading),
        sanctions.router.lifespan_context(sanctions),
        served_in_process(publish, "publish") as client,
        served_in_process(supervision, "supervision") as planner,
    ):
        yield client, planner


@pytest.fixture(scope="module")
async def engine(stack_env: dict[str, str]) -> AsyncIterator[AsyncEngine]:
    the_engine = create_engine(stack_env["DATABASE_URL"], pool_size=2)
    yield the_engine
    await the_engine.dispose()


async def _events_about(settings: CommonSettings, codes: set[str]) -> dict[str, set[str]]:
    """Ids of the events about `codes` on the topics each service consumes."""
    records = set(record_topics(settings))
    grades = settings.topic("outcomes.grades")
    outcomes = {grades, settings.topic("outcomes.objections")}
    ids: dict[str, set[str]] = {service: set() for service in SERVICES}
    async for m in read_all(settings.kafka_bootstrap, sorted(records | outcomes)):
        event = CloudEvent.from_kafka(list(m.headers), m.value or b"")
        if (m.key or b"").decode() in codes or event.subject in codes:
            if m.topic in records:
                ids["grading"].add(event.id)
                ids["publish"].add(event.id)
            if m.topic in records or m.topic == grades:
                ids["supervision"].add(event.id)
            ids["sanctions"].add(event.id)
    return ids


@pytest.fixture(scope="module")
async def scenario(
    services: tuple[httpx.AsyncClient, httpx.AsyncClient],
    ingest: httpx.AsyncClient,
    tokens: dict[str, str],
    stack: Stack,
    engine: AsyncEngine,
) -> list[str]:
    """Penalties with a correction and a revocation, a registration, a serious listing with a related person
    and an objection to it, a commitment past due and its failed 核查, a 纳税 A evaluation, and a 双随机
    plan drawn after the grades; returns the subject codes (and the plan id) once every service has consumed
    every event."""
    publish, planner = services
    busy, listed = grading_support.company(), factories.uscc()
    person = factories.citizen_id("19750505")
    fined = grading_support.penalty(busy, "2026-06-01", "罚款", fine=5)
    big = grading_support.penalty(busy, "2026-10-01", "罚款", fine=8)
    await grading_support.report(
        ingest,
        tokens,
        grading_support.registration(busy, "2026-01-05", industry="热点行业"),
        fined,
        big,
        grading_support.correction(fined, "2026-11-05", CF_NR_FK=2),
        grading_support.revocation(big, "2026-11-06"),
    )
    listing = sanctions_support.serious_listing(listed, persons=[("法定代表人", person)])
    await sanctions_support.report(ingest, tokens, listing)
    commitment = factories.fresh(factories.examples("credit_commitment")[0])
    failed = factories.fresh(factories.examples("commitment_verification")[1])
    evaluation = factories.fresh(factories.examples("credit_evaluation")[0], "TAX")
    for record in (commitment, failed, evaluation):
        record["subject"] = {"kind": "legal_person", "code": busy, "name": fined["subject"]["name"]}
        who = record["id"].split("-")[0]
        response = await ingest.post("/v1/records", json=record, headers=sanctions_support.bearer(tokens, who))
        assert response.status_code == 202, response.text
    objection = {
        "record_id": f"HOUSING.{listing['id']}",
        "subject_code": listed,
        "reason": "认定依据的事实有误。",
        "contact": "13800000000",
    }

    async def filed() -> httpx.Response | None:
        response = await publish.post("/v1/objections", json=objection)
        return response if response.status_code == 201 else None  # 404 until publish has the listing

    await eventually(filed, what="the objection to be filed on the portal")
    regraded, twice = factories.uscc(), factories.uscc()
    await _regrade(stack, engine, regraded, twice)
    codes = [busy, listed, person, regraded, twice]
    settings = CommonSettings()

    async def everything_consumed() -> bool:
        async with engine.connect() as conn:
            for outbox in ("grading.outbox", "publish.outbox", "supervision.outbox"):
                if (await conn.execute(text(f"SELECT count(*) FROM {outbox}"))).scalar_one():
                    return False  # grade changes, the objection still to reach their topics
            expected = await _events_about(settings, set(codes))
            if not expected["grading"] or len(expected["sanctions"]) <= len(expected["grading"]):
                return False  # the records, the objection and at least one grade change are on the topics
            for service, ids in expected.items():
                rows = await conn.execute(
                    text(f"SELECT event_id FROM {service}.inbox WHERE event_id = ANY(:ids)"), {"ids": sorted(ids)}
                )
                if {r[0] for r in rows} != ids:
                    return False
        return True

    await eventually(everything_consumed, timeout=90, what="every service to consume every event")
    plan = await planner.post(
        "/v1/supervision/plans",
        json={"plan_name": "审计重放抽查", "matter": "日常检查", "period_from": "2026-11-20", "period_to": "2026-12-31",
              "inspectors": ["张三", "李四"], "seed": "audit-replay-seed"},
        headers=sanctions_support.bearer(tokens, "AMR"),
    )  # fmt: skip
    assert plan.status_code == 201, plan.text
    assert busy in {c for codes in plan.json()["population"].values() for c in codes}

    async def published() -> bool:
        async with engine.connect() as conn:
            return not (await conn.execute(text("SELECT count(*) FROM supervision.outbox"))).scalar_one()

    await eventually(published, what="the plan on outcomes.supervision")
    return [*codes, plan.json()["plan_id"]]


async def _regrade(stack: Stack, engine: AsyncEngine, regraded: str, twice: str) -> None:
    """Grading announces C, then D from the same day (the C period never was): for `regraded` once the C
    case is stored, for `twice` right after the first announcement. Either way the C case ends lifted from
    its start, the D case open."""
    topic = f"{stack.config.topic_prefix}outcomes.grades"
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, enable_idempotence=True, acks="all")
    await producer.start()

    async def announce(code: str, grade: str) -> None:
        event = sanctions_support.grade_changed(code, rule_set="benxi-2017", old="B", new=grade, effective="2026-11-12")
        await sanctions_support.publish(producer, topic, event)

    async def states(code: str) -> dict[str, str] | None:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT trigger_kind, state FROM sanctions.cases WHERE subject_code = :c"), {"c": code}
            )
            return {r.trigger_kind: r.state for r in rows} or None

    try:
        await announce(regraded, "C")
        await eventually(lambda: states(regraded), what="the C case")
        await announce(twice, "C")
        await announce(twice, "D")
        await announce(regraded, "D")
    finally:
        await producer.stop()
    settled = {"grade:benxi-2017:C": "lifted", "grade:benxi-2017:D": "open"}
    for code in (regraded, twice):

        async def done(code: str = code) -> bool:
            return await states(code) == settled

        await eventually(done, what=f"the C case of {code} lifted, the D case open")


async def _replay(clock: FixedClock, codes: list[str]) -> tuple[ReplayReport, str]:
    progress = io.StringIO()
    report = await replay(CommonSettings(), as_of=clock.now(), subjects=codes, progress_every=50, out=progress)
    return report, progress.getvalue()


async def test_replay_from_the_topics_gives_the_live_grades_cases_and_related_persons(
    scenario: list[str], clock: FixedClock, engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    report, progress = await _replay(clock, scenario)

    assert report.identical, "\n".join(report.lines())
    assert print_replay(report) == 0
    lines = capsys.readouterr().out.splitlines()
    counts = {t.spec.table: t.live_rows for t in report.tables}
    assert counts["grades"] >= 1, lines
    assert counts["cases"] >= 2, lines
    assert counts["related_persons"] == 1, lines
    assert any(line.startswith("grading.grades: identical (") and "sha256" in line for line in lines)
    assert lines[0].startswith(f"replay as of {clock.now().isoformat()} into scratch schemas replay_")
    assert counts["disclosures"] >= 2, lines  # the penalties (the revoked one withheld)
    assert counts["objections"] == 1, lines
    assert counts["obligations"] >= 1, lines  # the commitment's delivery (and a patrol, by the grade)
    assert counts["composite"] >= 3, lines
    assert counts["proposals"] >= 1, lines  # the failed 核查
    assert counts["plans"] == 1, lines  # rebuilt from its published draw
    assert report.applied["grading"] > 0
    assert report.applied["sanctions"] > report.applied["grading"]
    assert "applied" in progress
    assert "/s)" in progress
    with capsys.disabled():  # the measured throughput of this run, shown with -s
        print(f"\n{report.throughput()}")
    async with engine.connect() as conn:  # scratch schemas and the scratch database are dropped
        left = await conn.execute(
            text("SELECT count(*) FROM pg_namespace WHERE nspname = ANY(:s)"), {"s": [*report.scratch.values()]}
        )
        assert left.scalar_one() == 0
        databases = await conn.execute(text("SELECT count(*) FROM pg_database WHERE datname LIKE 'replay\\_%'"))
        assert databases.scalar_one() == 0


async def test_a_live_grade_altered_behind_the_service_is_reported_as_a_difference(
    scenario: list[str], clock: FixedClock, engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    busy = scenario[0]
    async with engine.begin() as conn:
        original: list[Any] = list(
            (await conn.execute(text("SELECT rule_set, grade FROM grading.grades WHERE code = :c"), {"c": busy})).one()
        )
        await conn.execute(text("UPDATE grading.grades SET grade = 'D' WHERE code = :c"), {"c": busy})
    try:
        report, _ = await _replay(clock, scenario)
    finally:
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE grading.grades SET grade = :g WHERE code = :c AND rule_set = :r"),
                {"g": original[1], "c": busy, "r": original[0]},
            )

    assert not report.identical
    assert print_replay(report) == 1
    grades = next(t for t in report.tables if t.spec.table == "grades")
    assert grades.differing == [(f"{busy}/{original[0]}", {"grade": ("D", original[1])})]
    assert all(t.identical for t in report.tables if t.spec.table != "grades")
    out = capsys.readouterr().out
    assert "grading.grades: DIFFERENT" in out
    assert f'grade: live="D" rebuilt="{original[1]}"' in out


async def test_an_auditor_without_write_access_replays_into_its_own_database(
    scenario: list[str], clock: FixedClock, engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    """`exchange audit replay --scratch-url`: the rebuild goes to the auditor's own PostgreSQL and production is
    opened read-only (PostgreSQL refuses every write in those sessions); `--json` carries every table."""
    import uuid

    import orjson

    from tests.helpers import create_database, drop_database, scratch_url

    own = f"auditor_own_{uuid.uuid4().hex[:8]}"
    live_url = CommonSettings().database_url
    await create_database(engine, own)
    async with engine.connect() as conn:
        before = (await conn.execute(text("SELECT count(*) FROM pg_database"))).scalar_one()
    try:
        report = await replay(
            CommonSettings(),
            as_of=clock.now(),
            subjects=scenario,
            out=io.StringIO(),
            scratch_database=scratch_url(live_url, own),
        )
        assert report.identical, "\n".join(report.lines())
        assert {f"{t.spec.service}.{t.spec.table}" for t in report.tables} >= {"publish.disclosures", "grading.grades"}
        assert print_replay(report, as_json=True) == 0
        document = orjson.loads(capsys.readouterr().out)
        assert document["identical"] is True
        assert {t["table"] for t in document["tables"]} >= {"grading.grades", "sanctions.cases"}
        async with engine.connect() as conn:  # nothing was created in production, and all was dropped
            left = await conn.execute(text("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'replay\\_%'"))
            assert left.scalar_one() == 0
            assert (await conn.execute(text("SELECT count(*) FROM pg_database"))).scalar_one() == before
    finally:
        await drop_database(engine, own)


async def test_the_live_side_of_a_scratch_url_replay_refuses_writes(stack_env: dict[str, str]) -> None:
    from sqlalchemy.exc import DBAPIError

    read_only = create_engine(stack_env["DATABASE_URL"], pool_size=1, read_only=True)
    try:
        async with read_only.begin() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM grading.grades"))).scalar_one() >= 0
        with pytest.raises(DBAPIError, match="read-only transaction"):
            async with read_only.begin() as conn:
                await conn.execute(text("CREATE SCHEMA replay_must_not_exist"))
    finally:
        await read_only.dispose()


async def test_topics_exported_and_imported_into_an_empty_cluster_replay_to_the_live_state(
    scenario: list[str], clock: FixedClock, stack_env: dict[str, str], tmp_path: Any
) -> None:
    """Backups: `exchange topics export` → `import` into empty topics (a fresh prefix stands in for the
    empty cluster) → `exchange audit replay` on the imported topics equals the live state."""
    import uuid
    from pathlib import Path

    from services import backup
    from services.common.kafka import ensure_topics
    from services.ingest import keyring
    from services.topics import topic_specs

    key = keyring.load_private(Path(stack_env["INGEST_SIGNING_KEY_FILE"]))
    archive = Path(tmp_path) / "backup.jsonl"
    with archive.open("wb") as out:
        summary = await backup.export_topics(CommonSettings(), out, key, progress=lambda _: None)
    restored = CommonSettings(EXCHANGE_TOPIC_PREFIX=f"restored{uuid.uuid4().hex[:6]}.")
    await ensure_topics(restored.kafka_bootstrap, topic_specs(restored))
    ring = {keyring.key_id(key.public_key()): key.public_key()}
    written = await backup.import_topics(restored, archive, ring, progress=lambda _: None)
    assert sum(written.values()) == summary.lines

    report = await replay(restored, as_of=clock.now(), subjects=scenario, out=io.StringIO())
    assert report.identical, "\n".join(report.lines())
    assert report.applied["sanctions"] > 0
