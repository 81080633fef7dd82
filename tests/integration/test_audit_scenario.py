"""A county's autumn through the public APIs, then `exchange audit replay` (issue 8, DOMAIN §10).

Thousands of records of every type from every department (registrations, licences, penalties of every
severity, other acts, inspections, commitments, interviews, every kind of list), corrections and
revocations, objections filed on the portal and answered 不属实 / 属实 (then corrected or revoked) or left
unanswered, repair applications accepted, extended, approved, refused or ignored, sanction feedback; then
a month passes (objections escalate, repairs fall late, publicity periods and listings end) and the grades,
cases, disclosures and supervision's obligations, consequences, proposals and composite evaluations rebuilt
from offset 0 of the topics equal the live ones, row for row.
"""

from __future__ import annotations

import io
import random
from collections.abc import AsyncIterator, Iterable
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.audit.replay import print_replay, replay
from services.common.clock import SHANGHAI, FixedClock
from services.common.db import create_engine
from services.common.settings import CommonSettings
from tests import factories
from tests.conftest import DEFAULT_NOW
from tests.helpers import eventually, served_in_process
from tests.integration.grading import support as grading_support
from tests.integration.publish.support import amendment, repair_decision, verification
from tests.integration.sanctions import support as sanctions_support
from tests.integration.sanctions.test_feedback import instructed_measures

COMPANIES = 420
PERSONS = 120
LATER = datetime(2026, 12, 22, 9, 0, tzinfo=SHANGHAI)  # after the objections' 20 working days (12-18)
FINES = (0.5, 20.0, 20.0, 150.0)  # 万元 for a company: 轻微, 一般, 一般, 严重 under 36号令
PERSON_FINES = (0.05, 2.0, 20.0)
OTHER_TYPES = ("administrative_action", "inspection_result", "credit_commitment", "supervision_interview")
LIVE = ("grading", "sanctions", "supervision", "publish")


def bearer(tokens: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['TOKEN_' + who]}"}


def department_of(record: dict[str, Any]) -> str:
    return str(record["id"].split("-", 1)[0])


def day_between(rng: random.Random, first: date, last: date) -> str:
    return (first + timedelta(days=rng.randrange((last - first).days + 1))).isoformat()


def about(example: dict[str, Any], subject: dict[str, Any]) -> dict[str, Any]:
    """A copy of a catalogue example (new id, same department) about another subject."""
    record = factories.fresh(example, department_of(example))
    record["subject"] = {k: subject[k] for k in ("kind", "code", "name")}
    return record


class County:
    """The records of the scenario, built deterministically from one seed."""

    def __init__(self, seed: int = 20261120) -> None:
        self.rng = random.Random(seed)
        self.records: list[dict[str, Any]] = []
        self.codes: list[str] = []
        self.penalties: list[dict[str, Any]] = []
        self.serious: list[dict[str, Any]] = []

    def add(self, *records: dict[str, Any]) -> None:
        self.records.extend(records)

    def build(self) -> None:
        rng = self.rng
        for n in range(COMPANIES):
            code = grading_support.company()
            self.codes.append(code)
            self.add(grading_support.registration(code, "2025-01-06", industry=rng.choice(["一般行业", "热点行业"])))
            self.add(factories.licensing(code=code, name=grading_support.NAMES["legal_person"]))
            for _ in range(2):
                penalty = factories.penalty(
                    code=code,
                    name=grading_support.NAMES["legal_person"],
                    fine=rng.choice(FINES),
                    decision_date=day_between(rng, date(2025, 6, 1), date(2026, 11, 18)),
                    department=rng.choice(["AMR", "TAX", "HOUSING"]),
                )
                self.penalties.append(penalty)
                self.add(penalty)
            subject = self.records[-1]["subject"]
            self.add(about(rng.choice(factories.examples(OTHER_TYPES[n % len(OTHER_TYPES)])), subject))
            if n % 14 == 0:
                listing = sanctions_support.serious_listing(
                    code, on=day_between(rng, date(2025, 12, 1), date(2026, 11, 2))
                )
                listing["data"]["listing_period_end"] = "2026-12-20" if n % 28 == 0 else "2029-11-01"
                self.serious.append(listing)
                self.add(listing)
            elif n % 14 == 1:
                self.add(sanctions_support.red_list(code))
            elif n % 14 == 2:
                self.add(about(factories.examples("abnormal_operation_listing")[0], subject))
            elif n % 14 == 3:
                self.add(about(factories.examples("watch_list")[0], subject))
            elif n % 14 == 4:
                self.add(sanctions_support.court_listing(code, able_but_refusing=n % 28 == 4))
            elif n % 14 == 5:  # a department's evaluation: supervision's consequences and inspections
                self.add(about(factories.examples("credit_evaluation")[n % 28 == 5], subject))
        for n in range(PERSONS):
            born = "20100301" if n % 12 == 0 else "19800101"  # a few minors: never published
            code = factories.citizen_id(born)
            self.codes.append(code)
            penalty = factories.penalty(
                code=code,
                name="王某某",
                kind="natural_person",
                fine=rng.choice(PERSON_FINES),
                decision_date=day_between(rng, date(2025, 9, 1), date(2026, 11, 18)),
            )
            self.penalties.append(penalty)
            self.add(penalty)

    def amendments(self) -> list[dict[str, Any]]:
        """Corrections and revocations of some penalties and listings; removals of some listings."""
        rng, out = self.rng, []
        for penalty in rng.sample(self.penalties, 60):
            fine = rng.choice(FINES if penalty["subject"]["kind"] != "natural_person" else PERSON_FINES)
            corrected = grading_support.correction(penalty, "2026-11-19", CF_NR_FK=fine)
            corrected["id"] = factories.record_id(department_of(penalty))
            out.append(corrected)
        for penalty in rng.sample(self.penalties, 30):
            revoked = amendment(
                penalty,
                "record_revocation",
                "2026-11-19",
                reason_kind="撤销",
                reason="行政复议撤销。",
                document_no="示府复〔2026〕3号",
            )
            revoked["id"] = factories.record_id(department_of(penalty))
            out.append(revoked)
        for listing in self.serious[:3]:
            out.append(sanctions_support.removal(listing, on="2026-11-19"))
        out.append(sanctions_support.revocation(self.serious[3], on="2026-11-19"))
        return out


async def send(ingest: httpx.AsyncClient, tokens: dict[str, str], records: Iterable[dict[str, Any]]) -> int:
    """Every record through POST /v1/records:batch, as its department; every one must be accepted."""
    by_department: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_department.setdefault(department_of(record), []).append(record)
    accepted = 0
    for department, items in sorted(by_department.items()):
        for first in range(0, len(items), 500):
            chunk = items[first : first + 500]
            response = await ingest.post(
                "/v1/records:batch", json={"records": chunk}, headers=bearer(tokens, department)
            )
            assert response.status_code in (200, 207), response.text
            refused = [r for r in response.json()["results"] if r["status"] not in (200, 202)]
            assert refused == [], refused[:3]
            accepted += len(chunk)
    return accepted


@pytest.fixture(scope="module")
async def live(
    stack_env: dict[str, str], clock: FixedClock, tokens: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """Grading, sanctions, supervision and publish in-process on the session clock (put back afterwards)."""
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
    supervision = supervision_app(SupervisionSettings(tick_seconds=0.2), clock=clock)
    publish = publish_app(PublishSettings(tick_seconds=0.2), clock=clock)
    try:
        async with (
            grading.router.lifespan_context(grading),
            sanctions.router.lifespan_context(sanctions),
            supervision.router.lifespan_context(supervision),
            served_in_process(publish, "publish") as client,
        ):
            yield client
    finally:
        clock.set(DEFAULT_NOW)


@pytest.fixture(scope="module")
async def engine(stack_env: dict[str, str]) -> AsyncIterator[AsyncEngine]:
    the_engine = create_engine(stack_env["DATABASE_URL"], pool_size=2)
    yield the_engine
    await the_engine.dispose()


async def settled(engine: AsyncEngine, codes: list[str], today: date) -> bool:
    """Every service consumed every record about `codes`, sent what it had to, and its ticker caught up."""
    async with engine.connect() as conn:
        for outbox in ("grading.outbox", "sanctions.outbox", "supervision.outbox", "publish.outbox", "ingest.outbox"):
            if (await conn.execute(text(f"SELECT count(*) FROM {outbox}"))).scalar_one():
                return False
        stored = (
            await conn.execute(text("SELECT count(*) FROM ingest.records WHERE subject_code = ANY(:c)"), {"c": codes})
        ).scalar_one()
        for service in LIVE:
            seen = (
                await conn.execute(
                    text(f"SELECT count(*) FROM {service}.records WHERE subject_code = ANY(:c)"), {"c": codes}
                )
            ).scalar_one()
            if seen != stored:
                return False
        checks = {
            "publish withdrawals": "SELECT count(*) FROM publish.disclosures WHERE state = 'published' "
            "AND withdraw_on <= :t AND subject_code = ANY(:c)",
            "objection escalations": "SELECT count(*) FROM publish.objections WHERE state = 'verifying' "
            "AND NOT due_provisional AND due_date < :t AND subject_code = ANY(:c)",
            "grade reviews": "SELECT count(*) FROM grading.grades WHERE review_on <= :t AND code = ANY(:c)",
            # supervision derives from the grades too: every grade event about them consumed (as sanctions has)
            "supervision grades": "SELECT count(*) FROM sanctions.grades g WHERE g.code = ANY(:c) AND NOT EXISTS "
            "(SELECT 1 FROM supervision.inbox i WHERE i.event_id = g.event_id)",
        }
        for sql in checks.values():
            if (await conn.execute(text(sql), {"t": today, "c": codes})).scalar_one():
                return False
    return True


async def file(publish: httpx.AsyncClient, path: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = await publish.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    case: dict[str, Any] = next(iter(response.json().values()))
    return case


async def public_body(publish: httpx.AsyncClient, record: dict[str, Any]) -> dict[str, Any]:
    response = await publish.get(f"/v1/disclosures/{department_of(record)}.{record['id']}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def shown(publish: httpx.AsyncClient, record: dict[str, Any]) -> bool:
    return (await publish.get(f"/v1/disclosures/{department_of(record)}.{record['id']}")).status_code == 200


async def test_replay_of_a_busy_autumn_equals_the_live_state(
    live: httpx.AsyncClient,
    ingest: httpx.AsyncClient,
    tokens: dict[str, str],
    clock: FixedClock,
    engine: AsyncEngine,
    capsys: pytest.CaptureFixture[str],
) -> None:
    county = County()
    county.build()
    sent = await send(ingest, tokens, county.records)
    sent += await send(ingest, tokens, county.amendments())
    await eventually(lambda: settled(engine, county.codes, clock.now().date()), timeout=240, what="the first wave")

    # Objections on the portal: to published penalties (answered 不属实, 属实 then revoked or corrected, or
    # never answered) and to serious listings.
    published = [p for p in county.penalties if await shown(live, p)]
    rng = county.rng
    chosen = rng.sample(published, 30)
    answers: list[dict[str, Any]] = []
    for n, penalty in enumerate(chosen):
        case = await file(
            live,
            "/v1/objections",
            {
                "record_id": f"{department_of(penalty)}.{penalty['id']}",
                "subject_code": penalty["subject"]["code"],
                "reason": "处罚决定认定的事实有误。",
                "contact": "13800000000",
            },
        )
        if n < 10:
            answers.append(verification(penalty, case["objection_id"], "不属实", "2026-11-20"))
        elif n < 18:
            answers.append(verification(penalty, case["objection_id"], "属实", "2026-11-20"))
            revoked = amendment(
                penalty,
                "record_revocation",
                "2026-11-20",
                reason_kind="异议核实",
                reason="异议属实，撤销。",
                objection_id=case["objection_id"],
                document_no="示撤〔2026〕8号",
            )
            revoked["id"] = factories.record_id(department_of(penalty))
            answers.append(revoked)
        elif n < 22:
            answers.append(verification(penalty, case["objection_id"], "部分属实", "2026-11-20"))
            corrected = grading_support.correction(penalty, "2026-11-20", CF_NR_FK=0.5)
            corrected["id"] = factories.record_id(department_of(penalty))
            answers.append(corrected)
    for listing in county.serious[4:7]:
        await file(
            live,
            "/v1/objections",
            {
                "record_id": f"HOUSING.{listing['id']}",
                "subject_code": listing["subject"]["code"],
                "reason": "列入依据有误。",
                "contact": "13800000000",
            },
        )

    # Repairs: of 一般 / 严重 penalties past their minimum period, and of a serious listing (filed by 住建局
    # for the subject); accepted, extended, approved, refused, not accepted or left unanswered.
    today = clock.now().date()
    repairable = [
        p
        for p in published
        if p not in chosen
        and p["subject"]["kind"] != "natural_person"
        and (repair_from := (await public_body(live, p))["repair_from"]) is not None
        and repair_from <= today.isoformat()
    ]
    decisions = [
        ["受理", "准予修复"],
        ["准予修复"],
        ["受理", "延长办理期限", "准予修复"],
        ["受理", "不予修复"],
        ["不予受理"],
        ["受理", "延长办理期限"],
        ["受理"],
        [],
    ]
    for n, penalty in enumerate(repairable[: 2 * len(decisions)]):
        case = await file(
            live,
            "/v1/repairs",
            {
                "record_id": f"{department_of(penalty)}.{penalty['id']}",
                "subject_code": penalty["subject"]["code"],
                "commitment": "本单位承诺已纠正失信行为并依法诚信经营。",
                "fulfilment": "罚款已缴清。",
                "contact": "13800000000",
            },
        )
        answers += [repair_decision(penalty, case["repair_id"], step) for step in decisions[n % len(decisions)]]
    listing = county.serious[8]
    case = await file(
        live,
        "/v1/repairs",
        {
            "record_id": f"HOUSING.{listing['id']}",
            "subject_code": listing["subject"]["code"],
            "commitment": "已履行全部法定义务并作出信用承诺。",
            "fulfilment": "已完成整改。",
            "contact": "023-00000000",
        },
        **bearer(tokens, "HOUSING"),
    )
    answers.append(repair_decision(listing, case["repair_id"], "准予修复", "2026-11-20"))
    for listing in county.serious[9:14]:  # 税务局 feeds back on its instructions
        answers += [
            sanctions_support.feedback(
                listing["subject"], department="TAX", case_id=sanctions_support.case_id_of(listing), measure_id=m
            )
            for m in instructed_measures("TAX")
        ]
    sent += await send(ingest, tokens, answers)
    await eventually(lambda: settled(engine, county.codes, clock.now().date()), timeout=120, what="the answers")

    # A month passes: objections and repairs fall late, listings and publicity periods end.
    clock.set(LATER)
    await eventually(lambda: settled(engine, county.codes, LATER.date()), timeout=120, what="the ticks of 2026-12-22")
    async with engine.connect() as conn:
        escalated = (
            await conn.execute(
                text("SELECT count(*) FROM publish.objections WHERE state = 'escalated' AND subject_code = ANY(:c)"),
                {"c": county.codes},
            )
        ).scalar_one()
    assert escalated >= 8

    progress = io.StringIO()
    report = await replay(CommonSettings(), as_of=clock.now(), subjects=county.codes, out=progress, services=LIVE)

    assert report.identical, "\n".join(report.lines())
    assert print_replay(report) == 0
    counts = {t.spec.table: t.live_rows for t in report.tables}
    assert counts["grades"] >= COMPANIES
    assert counts["disclosures"] > COMPANIES * 2
    assert counts["objections"] == 33
    assert counts["repairs"] == 2 * len(decisions) + 1
    assert counts["cases"] >= 60
    assert counts["obligations"] > 0  # patrols of level II / III companies, commitments due, interviews
    assert counts["consequences"] > 0  # the evaluations' measures and the composite bands'
    assert counts["proposals"] > 0
    with capsys.disabled():
        print(f"\n{sent} records; {report.throughput()}; " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
