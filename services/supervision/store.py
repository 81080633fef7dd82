"""The only SQL of the supervision service. Every method runs inside a transaction its caller owns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.db import sql
from services.common.envelope import dumps
from services.supervision.rules.codes import Registered, Reported
from services.supervision.rules.derive import Derived, Grade, OverdueAlert
from services.supervision.rules.sampling import Draw, Member

DEFAULT_SCHEMA = "supervision"


def as_json(value: Any) -> str:
    return dumps(value).decode()


@dataclass(frozen=True, slots=True)
class PlanRow:
    plan_id: str
    department: str
    plan_name: str
    matter: str
    rule_set: str
    period_from: date
    period_to: date
    seed: str
    population_size: int
    drawn_count: int
    published: dict[str, Any]
    created_at: datetime


class Store:
    def __init__(self, schema: str = DEFAULT_SCHEMA) -> None:
        self.s = schema

    async def lock_subject(self, conn: AsyncConnection, code: str) -> None:
        await self.lock_subjects(conn, [code])

    async def lock_subjects(self, conn: AsyncConnection, codes: Sequence[str]) -> None:
        """The subjects' advisory locks in one statement, taken in the order of their keys' hashes so two
        transactions never wait on each other's subjects in a cycle."""
        if not codes:
            return
        await conn.execute(
            sql(
                "SELECT count(pg_advisory_xact_lock(hashtext(k))) FROM "
                "(SELECT k FROM unnest(CAST(:keys AS text[])) AS k ORDER BY hashtext(k), k) AS ordered"
            ),
            {"keys": [f"{self.s}:subject:{code}" for code in sorted(set(codes))]},
        )

    async def save_grades(self, conn: AsyncConnection, grades: Sequence[tuple[str, Grade, str | None, str]]) -> None:
        """A poll's grade events (code, grade, subject kind, event id) in one statement: the latest grade per
        subject and rule set (a later effective date wins; on the same date, the later event), also against
        the one stored."""
        latest: dict[tuple[str, str], tuple[str, Grade, str | None, str]] = {}
        for item in grades:
            code, grade, _, _ = item
            kept = latest.get((code, grade.rule_set))
            if kept is None or kept[1].since <= grade.since:
                latest[(code, grade.rule_set)] = item
        if not latest:
            return
        chosen = list(latest.values())
        await conn.execute(
            sql(
                f"INSERT INTO {self.s}.grades (code, rule_set, grade, level, subject_kind, since, event_id) "
                "SELECT * FROM unnest(CAST(:codes AS text[]), CAST(:rs AS text[]), CAST(:grades AS text[]), "
                "CAST(:levels AS text[]), CAST(:kinds AS text[]), CAST(:since AS date[]), CAST(:ids AS text[])) "
                "ON CONFLICT (code, rule_set) DO UPDATE SET grade = EXCLUDED.grade, level = EXCLUDED.level, "
                "subject_kind = EXCLUDED.subject_kind, since = EXCLUDED.since, event_id = EXCLUDED.event_id "
                f"WHERE {self.s}.grades.since <= EXCLUDED.since"
            ),
            {
                "codes": [c for c, _, _, _ in chosen],
                "rs": [g.rule_set for _, g, _, _ in chosen],
                "grades": [g.grade for _, g, _, _ in chosen],
                "levels": [g.level for _, g, _, _ in chosen],
                "kinds": [k for _, _, k, _ in chosen],
                "since": [g.since for _, g, _, _ in chosen],
                "ids": [i for _, _, _, i in chosen],
            },
        )

    async def grades_of(self, conn: AsyncConnection, code: str) -> list[Grade]:
        return (await self.grades_of_subjects(conn, [code])).get(code, [])

    async def grades_of_subjects(self, conn: AsyncConnection, codes: Sequence[str]) -> dict[str, list[Grade]]:
        """Each subject's latest grade per rule set, in one round trip."""
        rows = await conn.execute(
            sql(
                f"SELECT code, rule_set, grade, level, since FROM {self.s}.grades "
                "WHERE code = ANY(CAST(:codes AS text[])) ORDER BY code, rule_set"
            ),
            {"codes": list(codes)},
        )
        found: dict[str, list[Grade]] = {}
        for r in rows:
            found.setdefault(r.code, []).append(Grade(r.rule_set, r.grade, r.level, r.since))
        return found

    async def replace_derived(self, conn: AsyncConnection, code: str, derived: Derived, name: str | None) -> None:
        await self.replace_derived_of_subjects(conn, [(code, derived, name)])

    async def replace_derived_of_subjects(
        self, conn: AsyncConnection, subjects: Sequence[tuple[str, Derived, str | None]]
    ) -> None:
        """Each subject's derived rows replaced by `derived`: one statement per table for the whole poll."""
        if not subjects:
            return
        s = self.s
        codes = [code for code, _, _ in subjects]
        await conn.execute(
            sql(
                f"UPDATE {s}.grades g SET effective_level = u.level, subject_name = u.name FROM unnest("
                "CAST(:codes AS text[]), CAST(:levels AS text[]), CAST(:names AS text[])) AS u(code, level, name) "
                "WHERE g.code = u.code"
            ),
            {"codes": codes, "levels": [d.level for _, d, _ in subjects], "names": [n for _, _, n in subjects]},
        )
        for table in ("obligations", "consequences", "proposals", "composite"):
            await conn.execute(
                sql(f"DELETE FROM {s}.{table} WHERE code = ANY(CAST(:codes AS text[]))"), {"codes": codes}
            )
        obligations = [
            {
                "code": code,
                "dept": o.department,
                "kind": o.kind,
                "due": o.due,
                "since": o.since,
                "basis": o.basis,
                "ids": as_json(list(o.record_ids)),
                "done_on": o.done_on,
                "done_record": o.done_record,
                "level": derived.level,
            }
            for code, derived, _ in subjects
            for o in derived.obligations
        ]
        if obligations:
            await conn.execute(
                sql(
                    f"INSERT INTO {s}.obligations (code, department, kind, due, since, basis, record_ids, done_on, "
                    "done_record, level) VALUES (:code, :dept, :kind, :due, :since, :basis, CAST(:ids AS jsonb), "
                    ":done_on, :done_record, :level)"
                ),
                obligations,
            )
        consequences = [
            {
                "code": code,
                "dept": c.department,
                "scale": c.scale,
                "grade": c.grade,
                "kind": c.kind,
                "text": c.text,
                "vf": c.valid_from,
                "vu": c.valid_until,
                "rec": c.record_id,
                "source": c.source,
            }
            for code, derived, _ in subjects
            for c in derived.consequences
        ]
        if consequences:
            await conn.execute(
                sql(
                    f"INSERT INTO {s}.consequences (code, department, scale, grade, kind, text, valid_from, "
                    "valid_until, record_id, source) VALUES (:code, :dept, :scale, :grade, :kind, :text, :vf, :vu, "
                    ":rec, :source)"
                ),
                consequences,
            )
        composite = [
            {
                "code": code,
                "vf": c.valid_from,
                "vu": c.valid_until,
                "score": c.score,
                "band": c.band,
                "items": as_json([{"record_id": i.record_id, "label": i.label, "points": i.points} for i in c.items]),
            }
            for code, derived, _ in subjects
            for c in derived.composite
        ]
        if composite:
            await conn.execute(
                sql(
                    f"INSERT INTO {s}.composite (code, valid_from, valid_until, score, band, items) "
                    "VALUES (:code, :vf, :vu, :score, :band, CAST(:items AS jsonb))"
                ),
                composite,
            )
        proposals = [
            {
                "id": f"{code}:{p.proposal_id}",
                "code": code,
                "dept": p.department,
                "kind": p.kind,
                "title": p.title,
                "from": p.candidate_from,
                "evidence": as_json(list(p.evidence)),
                "details": as_json(p.details),
                "name": name,
            }
            for code, derived, name in subjects
            for p in derived.proposals
        ]
        if proposals:
            await conn.execute(
                sql(
                    f"INSERT INTO {s}.proposals (proposal_id, code, department, kind, title, candidate_from, "
                    "evidence, details, subject_name) VALUES (:id, :code, :dept, :kind, :title, :from, "
                    "CAST(:evidence AS jsonb), CAST(:details AS jsonb), :name) ON CONFLICT (proposal_id) DO NOTHING"
                ),
                proposals,
            )

    async def record_alerts(
        self, conn: AsyncConnection, code: str, alerts: Sequence[OverdueAlert], event_ids: Sequence[str]
    ) -> set[str]:
        """The alerts not sent before (their ids); the others are left as they are."""
        if not alerts:
            return set()
        rows = await conn.execute(
            sql(
                f"INSERT INTO {self.s}.alerts (alert_id, code, department, kind, due, record_id, event_id) "
                "SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:codes AS text[]), CAST(:depts AS text[]), "
                "CAST(:kinds AS text[]), CAST(:dues AS date[]), CAST(:recs AS text[]), CAST(:events AS text[])) "
                "ON CONFLICT (alert_id) DO NOTHING RETURNING alert_id"
            ),
            {
                "ids": [a.alert_id for a in alerts],
                "codes": [code] * len(alerts),
                "depts": [a.department for a in alerts],
                "kinds": ["commitment_overdue"] * len(alerts),
                "dues": [a.due for a in alerts],
                "recs": [a.record_id for a in alerts],
                "events": list(event_ids),
            },
        )
        return {r.alert_id for r in rows}

    async def subjects_with_unalerted_overdue(self, conn: AsyncConnection, today: date) -> list[str]:
        """Subjects with a commitment past due before `today` whose alert has not gone out."""
        rows = await conn.execute(
            sql(
                f"SELECT DISTINCT o.code FROM {self.s}.obligations o WHERE o.kind = 'commitment_due' "
                "AND o.due < :today AND (o.done_on IS NULL OR o.done_on > o.due) AND NOT EXISTS (SELECT 1 FROM "
                f"{self.s}.alerts a WHERE a.alert_id = 'commitment_overdue:' || o.department || ':' || "
                "(o.record_ids ->> 0)) ORDER BY o.code"
            ),
            {"today": today},
        )
        return [r.code for r in rows]

    async def population(
        self,
        conn: AsyncConnection,
        rule_set: str,
        *,
        grades: Sequence[str] = (),
        levels: Sequence[str] = (),
        subject_kind: str | None = None,
        composite_on: date | None = None,
    ) -> list[Member]:
        """The graded population of `rule_set`; with `composite_on`, the county composite evaluation's
        bands in force on that day instead (strata `<band>/-`)."""
        if composite_on is not None:
            rows = await conn.execute(
                sql(
                    f"SELECT c.code, c.band FROM {self.s}.composite c WHERE c.valid_from <= :on "
                    "AND (c.valid_until IS NULL OR :on <= c.valid_until) AND (CAST(:kind AS text) IS NULL OR "
                    f"EXISTS (SELECT 1 FROM {self.s}.records r WHERE r.subject_code = c.code "
                    "AND r.record -> 'subject' ->> 'kind' = :kind))"
                ),
                {"on": composite_on, "kind": subject_kind},
            )
            found = [Member(r.code, r.band, None) for r in rows]
            return [m for m in found if not grades or m.grade in grades]
        rows = await conn.execute(
            sql(
                f"SELECT code, grade, COALESCE(effective_level, level) AS level FROM {self.s}.grades "
                "WHERE rule_set = :rs AND grade IS NOT NULL "
                "AND (CAST(:kind AS text) IS NULL OR subject_kind = :kind)"
            ),
            {"rs": rule_set, "kind": subject_kind},
        )
        members = [Member(r.code, r.grade, r.level) for r in rows]
        return [m for m in members if (not grades or m.grade in grades) and (not levels or m.level in levels)]

    async def add_plan(self, conn: AsyncConnection, plan: PlanRow, result: Draw) -> None:
        await conn.execute(
            sql(
                f"INSERT INTO {self.s}.plans (plan_id, department, plan_name, matter, rule_set, period_from, "
                "period_to, seed, population_size, drawn_count, published, created_at) VALUES (:id, :dept, :name, "
                ":matter, :rs, :pf, :pt, :seed, :size, :drawn, CAST(:published AS jsonb), :at)"
            ),
            {
                "id": plan.plan_id,
                "dept": plan.department,
                "name": plan.plan_name,
                "matter": plan.matter,
                "rs": plan.rule_set,
                "pf": plan.period_from,
                "pt": plan.period_to,
                "seed": plan.seed,
                "size": plan.population_size,
                "drawn": plan.drawn_count,
                "published": as_json(plan.published),
                "at": plan.created_at,
            },
        )
        if result.drawn:
            await conn.execute(
                sql(
                    f"INSERT INTO {self.s}.plan_subjects (plan_id, code, stratum, inspectors) "
                    "VALUES (:id, :code, :stratum, CAST(:inspectors AS jsonb))"
                ),
                [
                    {
                        "id": plan.plan_id,
                        "code": d.code,
                        "stratum": d.stratum,
                        "inspectors": as_json(list(d.inspectors)),
                    }
                    for d in result.drawn
                ],
            )

    async def add_published_plan(self, conn: AsyncConnection, data: dict[str, Any]) -> None:
        """A plan (or one part of it) as its `plan_drawn` event published it: how the audit replay rebuilds
        the plans a department made through the API. Parts and repeats add what is not there yet."""
        drawn = list(data.get("drawn") or [])
        await conn.execute(
            sql(
                f"INSERT INTO {self.s}.plans (plan_id, department, plan_name, matter, rule_set, period_from, "
                "period_to, seed, population_size, drawn_count, published, created_at) VALUES (:id, :dept, :name, "
                ":matter, :rs, :pf, :pt, :seed, :size, :drawn, CAST(:published AS jsonb), :at) "
                "ON CONFLICT (plan_id) DO NOTHING"
            ),
            {
                "id": data["plan_id"],
                "dept": data["department"],
                "name": data.get("plan_name") or "",
                "matter": data.get("matter") or "",
                "rs": data["rule_set"],
                "pf": date.fromisoformat(str(data["period_from"])),
                "pt": date.fromisoformat(str(data["period_to"])),
                "seed": data["seed"],
                "size": int(data["population_size"]),
                "drawn": int(data.get("drawn_count") or len(drawn)),
                "published": as_json({k: v for k, v in data.items() if k not in ("population", "drawn")}),
                "at": datetime.fromisoformat(str(data["drawn_at"])),
            },
        )
        if drawn:
            await conn.execute(
                sql(
                    f"INSERT INTO {self.s}.plan_subjects (plan_id, code, stratum, inspectors) "
                    "VALUES (:id, :code, :stratum, CAST(:inspectors AS jsonb)) ON CONFLICT DO NOTHING"
                ),
                [
                    {
                        "id": data["plan_id"],
                        "code": d["code"],
                        "stratum": d["stratum"],
                        "inspectors": as_json(d["inspectors"]),
                    }
                    for d in drawn
                ],
            )

    async def plans(self, conn: AsyncConnection, department: str | None, plan_id: str | None = None) -> list[PlanRow]:
        rows = await conn.execute(
            sql(
                "SELECT plan_id, department, plan_name, matter, rule_set, period_from, period_to, seed, "
                f"population_size, drawn_count, published, created_at FROM {self.s}.plans "
                "WHERE (CAST(:dept AS text) IS NULL OR department = :dept) "
                "AND (CAST(:id AS text) IS NULL OR plan_id = :id) ORDER BY created_at DESC, plan_id"
            ),
            {"dept": department, "id": plan_id},
        )
        return [PlanRow(**r._mapping) for r in rows]

    async def plan_progress(self, conn: AsyncConnection, plan_id: str) -> list[dict[str, Any]]:
        """Each drawn subject with the inspection_result filed under the plan's task number, if any."""
        rows = await conn.execute(
            sql(
                "SELECT ps.code, ps.stratum, ps.inspectors, g.subject_name, r.record_id, r.decision_date, "
                "r.received_at, r.record -> 'data' ->> 'inspected_on' AS inspected_on, "
                f"r.record -> 'data' ->> 'result' AS result FROM {self.s}.plan_subjects ps "
                f"LEFT JOIN LATERAL (SELECT subject_name FROM {self.s}.grades WHERE code = ps.code LIMIT 1) g ON TRUE "
                f"LEFT JOIN LATERAL (SELECT * FROM {self.s}.records x WHERE x.subject_code = ps.code "
                "AND x.record_type = 'inspection_result' AND x.record -> 'data' ->> 'task_no' = ps.plan_id "
                "ORDER BY x.decision_date LIMIT 1) r ON TRUE WHERE ps.plan_id = :id ORDER BY ps.stratum, ps.code"
            ),
            {"id": plan_id},
        )
        return [dict(r._mapping) for r in rows]

    async def open_obligations(self, conn: AsyncConnection, department: str | None) -> list[dict[str, Any]]:
        rows = await conn.execute(
            sql(
                "SELECT o.code, o.department, o.kind, o.due, o.since, o.basis, o.record_ids, o.level, "
                f"(SELECT subject_name FROM {self.s}.grades g WHERE g.code = o.code LIMIT 1) AS subject_name "
                f"FROM {self.s}.obligations o WHERE o.done_on IS NULL "
                "AND (CAST(:dept AS text) IS NULL OR o.department = :dept) ORDER BY o.due, o.code, o.kind"
            ),
            {"dept": department},
        )
        return [dict(r._mapping) for r in rows]

    async def consequences_of(self, conn: AsyncConnection, code: str, on: date) -> list[dict[str, Any]]:
        rows = await conn.execute(
            sql(
                "SELECT department, scale, grade, kind, text, valid_from, valid_until, record_id, source "
                f"FROM {self.s}.consequences WHERE code = :code AND valid_from <= :on "
                "AND (valid_until IS NULL OR :on <= valid_until) ORDER BY scale, kind"
            ),
            {"code": code, "on": on},
        )
        return [dict(r._mapping) for r in rows]

    async def proposals(self, conn: AsyncConnection, department: str | None, on: date) -> list[dict[str, Any]]:
        rows = await conn.execute(
            sql(
                "SELECT proposal_id, code, subject_name, department, kind, title, candidate_from, evidence, details "
                f"FROM {self.s}.proposals WHERE candidate_from <= :on "
                "AND (CAST(:dept AS text) IS NULL OR department = :dept) ORDER BY candidate_from, proposal_id"
            ),
            {"dept": department, "on": on},
        )
        return [dict(r._mapping) for r in rows]

    async def composite_of(self, conn: AsyncConnection, code: str) -> list[dict[str, Any]]:
        rows = await conn.execute(
            sql(
                f"SELECT valid_from, valid_until, score, band, items FROM {self.s}.composite WHERE code = :code "
                "ORDER BY valid_from"
            ),
            {"code": code},
        )
        return [dict(r._mapping) for r in rows]

    async def names_and_codes(self, conn: AsyncConnection) -> tuple[list[Registered], list[Reported]]:
        """Every registration (code, name, event) and every (code, name) a record reports, for 重错码."""
        regs = await conn.execute(
            sql(
                "SELECT subject_code, COALESCE(record -> 'data' ->> 'name', record -> 'subject' ->> 'name') AS name, "
                "record -> 'data' ->> 'event' AS event, decision_date, record_id "
                f"FROM {self.s}.records WHERE record_type = 'subject_registration'"
            )
        )
        registered = [
            Registered(r.subject_code, r.name or "", r.event or "", r.decision_date, r.record_id) for r in regs
        ]
        rows = await conn.execute(
            sql(
                "SELECT subject_code, record -> 'subject' ->> 'name' AS name, department, record_id "
                f"FROM {self.s}.records WHERE record -> 'subject' ->> 'kind' <> 'natural_person'"
            )
        )
        reported = [Reported(r.subject_code, r.name or "", r.department, r.record_id) for r in rows if r.name]
        return registered, reported
