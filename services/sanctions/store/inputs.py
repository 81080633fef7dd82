"""Inputs kept from the outcome topics (objections, grades) and the records the derivation reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.db import sql
from services.common.records import AcceptedRecord, record_from_row
from services.sanctions.derive import FEEDBACK, GradeChange, Objection
from services.sanctions.store.base import StoreBase, as_json


class InputStore(StoreBase):
    async def lock_subject(self, conn: AsyncConnection, code: str) -> None:
        """Serialise recomputations of one subject (consumer, ticker, other replicas) until commit."""
        await conn.execute(sql("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"{self.s}:subject:{code}"})

    async def add_objection(self, conn: AsyncConnection, objection: Objection, *, filed_at: datetime) -> None:
        await conn.execute(
            sql(
                f"INSERT INTO {self.s}.objections (objection_id, subject_code, department, record_id, filed_at, "
                "filed_on) VALUES (:id, :code, :dept, :rec, :at, :on) ON CONFLICT (objection_id) DO NOTHING"
            ),
            {
                "id": objection.objection_id,
                "code": objection.subject_code,
                "dept": objection.department,
                "rec": objection.record_id,
                "at": filed_at,
                "on": objection.filed_on,
            },
        )

    async def withdraw_objection(self, conn: AsyncConnection, objection_id: str, on: date) -> str | None:
        """Mark an objection withdrawn (the earliest withdrawal counts); its subject code, or None if unknown."""
        row = await conn.execute(
            sql(
                f"UPDATE {self.s}.objections SET withdrawn_on = LEAST(COALESCE(withdrawn_on, :on), :on) "
                "WHERE objection_id = :id RETURNING subject_code"
            ),
            {"id": objection_id, "on": on},
        )
        code: str | None = row.scalar_one_or_none()
        return code

    async def objections_of(self, conn: AsyncConnection, code: str) -> list[Objection]:
        rows = await conn.execute(
            sql(
                "SELECT objection_id, subject_code, department, record_id, filed_on, withdrawn_on "
                f"FROM {self.s}.objections WHERE subject_code = :code"
            ),
            {"code": code},
        )
        return [
            Objection(r.objection_id, r.subject_code, r.department, r.record_id, r.filed_on, r.withdrawn_on)
            for r in rows
        ]

    async def add_grade(self, conn: AsyncConnection, change: GradeChange) -> None:
        """Keep a grade change (each once, by its event id); the derivation orders them, not the arrival."""
        await conn.execute(
            sql(
                f"INSERT INTO {self.s}.grades (event_id, code, rule_set, effective_date, grade, subject_kind, "
                "announced_at, rests_on) VALUES (:ev, :code, :rs, :eff, :grade, :kind, :at, CAST(:rests AS jsonb)) "
                "ON CONFLICT (event_id) DO NOTHING"
            ),
            {
                "ev": change.event_id,
                "code": change.code,
                "rs": change.rule_set,
                "eff": change.effective,
                "grade": change.grade,
                "kind": change.subject_kind,
                "at": change.announced_at,
                "rests": as_json([list(key) for key in change.rests_on]),
            },
        )

    async def grades_of(self, conn: AsyncConnection, code: str) -> list[GradeChange]:
        rows = await conn.execute(
            sql(
                "SELECT code, rule_set, grade, effective_date, subject_kind, announced_at, event_id, rests_on "
                f"FROM {self.s}.grades WHERE code = :code"
            ),
            {"code": code},
        )
        return [
            GradeChange(
                r.code,
                r.rule_set,
                r.grade,
                r.effective_date,
                r.subject_kind,
                r.announced_at,
                r.event_id,
                tuple((str(d), str(i)) for d, i in r.rests_on),
            )
            for r in rows
        ]

    async def feedback_records(self, conn: AsyncConnection, code: str, case_ids: Sequence[str]) -> list[AcceptedRecord]:
        """Feedback on the subject's cases, whatever subject it was filed under, with the amendments of it."""
        rows = await conn.execute(
            sql(
                f"SELECT record, receipt FROM {self.s}.records WHERE subject_code IN ("
                f"SELECT CAST(:code AS text) UNION SELECT subject_code FROM {self.s}.records "
                f"WHERE record_type = '{FEEDBACK}' AND record->'data'->>'case_id' = ANY(CAST(:ids AS text[]))) "
                f"AND record_type IN ('{FEEDBACK}', 'record_correction', 'record_revocation')"
            ),
            {"code": code, "ids": list(case_ids)},
        )
        return [record_from_row(r.record, r.receipt) for r in rows]
