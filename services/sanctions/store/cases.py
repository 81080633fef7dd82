"""Derived state: cases, instructions with their feedback state, and the related-person index."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.db import sql
from services.sanctions.derive import CaseView
from services.sanctions.events import StoredCase, case_summary, content_hash, instruction_content
from services.sanctions.rules.measures import MeasureList
from services.sanctions.store.base import StoreBase, as_json


class CaseStore(StoreBase):
    async def stored_cases(self, conn: AsyncConnection, code: str) -> dict[str, StoredCase]:
        cases = await conn.execute(
            sql(
                f"SELECT case_id, state, state_since, since, emitted, departments FROM {self.s}.cases "
                "WHERE subject_code = :c"
            ),
            {"c": code},
        )
        found = {
            r.case_id: StoredCase(
                r.case_id, r.state, r.state_since, {}, tuple(r.emitted), code, tuple(r.departments), r.since
            )
            for r in cases
        }
        rows = await conn.execute(
            sql(f"SELECT case_id, department, content_hash FROM {self.s}.instructions WHERE subject_code = :c"),
            {"c": code},
        )
        for r in rows:
            if r.case_id in found:
                found[r.case_id].instruction_hashes[r.department] = r.content_hash
        return found

    async def save_case(
        self, conn: AsyncConnection, view: CaseView, measure_list: MeasureList, emitted: Sequence[str]
    ) -> None:
        s = case_summary(view)
        t = view.case.trigger
        await conn.execute(
            sql(
                f"INSERT INTO {self.s}.cases (case_id, subject_code, subject_kind, subject_name, nature, trigger_kind, "
                "trigger_department, trigger_record_id, since, until, state, state_since, state_reason, wrongful, "
                "objection_ids, departments, measures, measure_list_version, emitted, review_on, updated_at) "
                "VALUES (:id, :code, :kind, :name, :nature, :tk, :td, :tr, :since, :until, :state, :ss, :reason, "
                ":wrongful, "
                "CAST(:obj AS jsonb), CAST(:depts AS jsonb), CAST(:measures AS jsonb), :mlv, CAST(:emitted AS jsonb), "
                ":review_on, now()) ON CONFLICT (case_id) DO UPDATE SET subject_kind = EXCLUDED.subject_kind, "
                "subject_name = EXCLUDED.subject_name, nature = EXCLUDED.nature, since = EXCLUDED.since, "
                "until = EXCLUDED.until, state = EXCLUDED.state, state_since = EXCLUDED.state_since, "
                "state_reason = EXCLUDED.state_reason, wrongful = EXCLUDED.wrongful, "
                "objection_ids = EXCLUDED.objection_ids, departments = EXCLUDED.departments, "
                "measures = EXCLUDED.measures, measure_list_version = EXCLUDED.measure_list_version, "
                "emitted = EXCLUDED.emitted, review_on = EXCLUDED.review_on, updated_at = now()"
            ),
            {
                "id": view.case_id,
                "code": t.subject_code,
                "kind": t.subject_kind,
                "name": view.subject_name,
                "nature": view.nature,
                "tk": t.kind,
                "td": t.department,
                "tr": t.record_id,
                "since": t.since,
                "until": t.until,
                "state": str(view.state),
                "ss": view.state_since,
                "reason": view.reason,
                "wrongful": s["wrongful"],
                "obj": as_json(list(view.objection_ids)),
                "depts": as_json(list(view.departments)),
                "measures": as_json(s["measures"]),
                "mlv": measure_list.version,
                "emitted": as_json(sorted(emitted)),
                "review_on": view.review_on,
            },
        )
        await self._save_instructions(conn, view)

    async def _save_instructions(self, conn: AsyncConnection, view: CaseView) -> None:
        await conn.execute(sql(f"DELETE FROM {self.s}.instructions WHERE case_id = :id"), {"id": view.case_id})
        rows = []
        for iv in view.instructions:
            content = instruction_content(view, iv)
            rows.append(
                {
                    "id": iv.instruction.instruction_id,
                    "case": view.case_id,
                    "code": view.case.trigger.subject_code,
                    "dept": iv.instruction.department,
                    "measures": as_json(content["measures"]),
                    "persons": as_json(content["related_persons"]),
                    "hash": content_hash(content),
                    "state": iv.feedback_state,
                    "feedback": as_json(list(iv.feedback)),
                    "unanswered": as_json(list(iv.unanswered)),
                }
            )
        if rows:
            await conn.execute(
                sql(
                    f"INSERT INTO {self.s}.instructions (instruction_id, case_id, subject_code, department, measures, "
                    "persons, content_hash, feedback_state, feedback, unanswered_measures) VALUES (:id, :case, :code, "
                    ":dept, CAST(:measures AS jsonb), CAST(:persons AS jsonb), :hash, :state, "
                    "CAST(:feedback AS jsonb), CAST(:unanswered AS jsonb))"
                ),
                rows,
            )

    async def lift_orphan(
        self, conn: AsyncConnection, case_id: str, on: date, reason: str, emitted: Sequence[str]
    ) -> None:
        """A stored case the measure list no longer supports is lifted (it can never apply again)."""
        await conn.execute(
            sql(
                f"UPDATE {self.s}.cases SET state = 'lifted', state_since = :on, state_reason = :reason, "
                "emitted = CAST(:emitted AS jsonb), updated_at = now() WHERE case_id = :id"
            ),
            {"id": case_id, "on": on, "reason": reason, "emitted": as_json(sorted(emitted))},
        )

    async def replace_related_persons(self, conn: AsyncConnection, code: str, views: Iterable[CaseView]) -> None:
        """The index from a person's ID number to the cases that reach them (法定代表人 … of a listed subject)."""
        await conn.execute(sql(f"DELETE FROM {self.s}.related_persons WHERE subject_code = :c"), {"c": code})
        rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        for view in views:
            for person in view.case.trigger.related_persons:
                ids = [m.id for m in view.case.measures if person.role in m.related_person_roles]
                key = (person.id_number, person.role, view.case_id)
                rows[key] = {
                    "p": person.id_number,
                    "role": person.role,
                    "case": view.case_id,
                    "code": code,
                    "name": person.name,
                    "idt": person.id_type,
                    "ids": as_json(ids),
                }
        if rows:
            await conn.execute(
                sql(
                    f"INSERT INTO {self.s}.related_persons (person_code, role, case_id, subject_code, name, id_type, "
                    "measure_ids) VALUES (:p, :role, :case, :code, :name, :idt, CAST(:ids AS jsonb))"
                ),
                list(rows.values()),
            )

    async def rename_cases(self, conn: AsyncConnection, code: str, name: str | None, case_ids: Sequence[str]) -> None:
        """The subject's name on cases no longer derived (lifted orphans), as on the others."""
        await conn.execute(
            sql(
                f"UPDATE {self.s}.cases SET subject_name = :n WHERE subject_code = :c "
                "AND case_id = ANY(CAST(:ids AS text[])) AND subject_name IS DISTINCT FROM :n"
            ),
            {"n": name, "c": code, "ids": list(case_ids)},
        )

    async def has_cases(self, conn: AsyncConnection, code: str) -> bool:
        return bool(await self.subjects_with_cases(conn, [code]))

    async def subjects_with_cases(self, conn: AsyncConnection, codes: Sequence[str]) -> set[str]:
        rows = await conn.execute(
            sql(f"SELECT DISTINCT subject_code FROM {self.s}.cases WHERE subject_code = ANY(CAST(:c AS text[]))"),
            {"c": list(codes)},
        )
        return set(rows.scalars())

    async def subjects_of_cases(self, conn: AsyncConnection, case_ids: Sequence[str]) -> set[str]:
        rows = await conn.execute(
            sql(f"SELECT DISTINCT subject_code FROM {self.s}.cases WHERE case_id = ANY(CAST(:ids AS text[]))"),
            {"ids": list(case_ids)},
        )
        return set(rows.scalars())

    async def subjects_due(self, conn: AsyncConnection, today: date, limit: int = 500) -> list[str]:
        """Subjects with a case still announced as in force although its term ended before `today`, or
        whose announced state ends by `today` with no new record (a notice's objection period passed)."""
        rows = await conn.execute(
            sql(
                f"SELECT DISTINCT subject_code FROM {self.s}.cases WHERE state <> 'lifted' "
                "AND (until < :today OR review_on <= :today) ORDER BY subject_code LIMIT :n"
            ),
            {"today": today, "n": limit},
        )
        return list(rows.scalars())

    async def subjects_reaching(self, conn: AsyncConnection, person_code: str) -> set[str]:
        rows = await conn.execute(
            sql(f"SELECT DISTINCT subject_code FROM {self.s}.related_persons WHERE person_code = :p"),
            {"p": person_code},
        )
        return set(rows.scalars())
