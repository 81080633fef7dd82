"""Reads for the API (cases with instructions, checks) and the 应查必查 log."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.db import sql
from services.sanctions.store.base import StoreBase

_CASE_COLUMNS = (
    "case_id, subject_code, subject_kind, subject_name, nature, trigger_kind, trigger_department, "
    "trigger_record_id, since, until, state, state_since, state_reason, wrongful, objection_ids, departments, "
    "measures, measure_list_version"
)


class ReadStore(StoreBase):
    async def list_cases(
        self,
        conn: AsyncConnection,
        *,
        department: str | None,
        state: str | None,
        code: str | None,
        limit: int,
        offset: int,
        awaiting_feedback: bool = False,
    ) -> list[dict[str, Any]]:
        """Cases (newest first) with their instructions; `department`: only cases instructing it;
        `awaiting_feedback`: only cases whose instruction (to `department`, or to anyone) is not answered."""
        where: list[str] = ["TRUE"]
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        instructed = ["department = :dept" if department is not None else "TRUE"]
        if awaiting_feedback:
            instructed.append("feedback_state <> 'answered'")
        if department is not None or awaiting_feedback:
            where.append(f"case_id IN (SELECT case_id FROM {self.s}.instructions WHERE {' AND '.join(instructed)})")
        if department is not None:
            params["dept"] = department
        if state is not None:
            where.append("state = :state")
            params["state"] = state
        if code is not None:
            where.append("subject_code = :code")
            params["code"] = code
        rows = await conn.execute(
            sql(
                f"SELECT {_CASE_COLUMNS} FROM {self.s}.cases WHERE {' AND '.join(where)} "
                "ORDER BY since DESC, case_id LIMIT :limit OFFSET :offset"
            ),
            params,
        )
        cases = [dict(r._mapping) for r in rows]
        return await self._with_instructions(conn, cases)

    async def feedback_counts(
        self, conn: AsyncConnection, *, department: str | None, first: date, after: date
    ) -> list[dict[str, Any]]:
        """Per implementing department: instructions of cases opened in [first, after) by feedback state,
        and their measures with and without feedback (执行反馈完整性)."""
        rows = await conn.execute(
            sql(
                "SELECT i.department, count(*) AS instructions, "
                "count(*) FILTER (WHERE i.feedback_state = 'answered') AS answered, "
                "count(*) FILTER (WHERE i.feedback_state = 'partial') AS partial, "
                "count(*) FILTER (WHERE i.feedback_state = 'pending') AS pending, "
                "COALESCE(sum(jsonb_array_length(i.measures)), 0) AS measures, "
                "COALESCE(sum(jsonb_array_length(i.unanswered_measures)), 0) AS unanswered_measures "
                f"FROM {self.s}.instructions i JOIN {self.s}.cases c ON c.case_id = i.case_id "
                "WHERE c.since >= :first AND c.since < :after "
                "AND (CAST(:dept AS text) IS NULL OR i.department = :dept) "
                "GROUP BY i.department ORDER BY i.department"
            ),
            {"first": first, "after": after, "dept": department},
        )
        return [dict(r._mapping) for r in rows]

    async def get_case(self, conn: AsyncConnection, case_id: str) -> dict[str, Any] | None:
        row = (
            await conn.execute(sql(f"SELECT {_CASE_COLUMNS} FROM {self.s}.cases WHERE case_id = :id"), {"id": case_id})
        ).first()
        if row is None:
            return None
        return (await self._with_instructions(conn, [dict(row._mapping)]))[0]

    async def _with_instructions(self, conn: AsyncConnection, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not cases:
            return cases
        rows = await conn.execute(
            sql(
                "SELECT instruction_id, case_id, department, measures, persons, feedback_state, feedback, "
                f"unanswered_measures FROM {self.s}.instructions WHERE case_id = ANY(CAST(:ids AS text[])) "
                "ORDER BY department"
            ),
            {"ids": [c["case_id"] for c in cases]},
        )
        by_case: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            by_case.setdefault(r.case_id, []).append(dict(r._mapping))
        for case in cases:
            case["instructions"] = by_case.get(case["case_id"], [])
        return cases

    async def add_check(self, conn: AsyncConnection, **values: Any) -> None:
        """Keep one 应查必查 question and its answer (who, about whom, which matter, on which date)."""
        await conn.execute(
            sql(
                f"INSERT INTO {self.s}.checks (at, credential_id, role, department, code, matter, on_date, answer, "
                "purpose) VALUES (:at, :credential_id, :role, :department, :code, :matter, :on_date, :answer, :purpose)"
            ),
            values,
        )

    async def list_checks(
        self, conn: AsyncConnection, *, code: str | None, department: str | None, limit: int
    ) -> list[dict[str, Any]]:
        where: list[str] = ["TRUE"]
        params: dict[str, Any] = {"limit": limit}
        if code is not None:
            where.append("code = :code")
            params["code"] = code
        if department is not None:
            where.append("department = :dept")
            params["dept"] = department
        rows = await conn.execute(
            sql(
                "SELECT at, credential_id, role, department, code, matter, on_date, answer, purpose "
                f"FROM {self.s}.checks WHERE {' AND '.join(where)} ORDER BY at DESC, id DESC LIMIT :limit"
            ),
            params,
        )
        return [dict(r._mapping) for r in rows]

    async def check_compliance(
        self, conn: AsyncConnection, *, department: str | None, first: date, after: date
    ) -> list[dict[str, Any]]:
        """应查必查 (001 L376): per department, its licensing decisions of [first, after) and how many of
        them it checked first (a restriction check by that department about that subject on or before the
        decision date, Asia/Shanghai)."""
        rows = await conn.execute(
            sql(
                "SELECT r.department, count(*) AS decisions, count(*) FILTER (WHERE EXISTS ("
                f"SELECT 1 FROM {self.s}.checks c WHERE c.department = r.department AND c.code = r.subject_code "
                "AND CAST(c.at AT TIME ZONE 'Asia/Shanghai' AS date) <= r.decision_date)) AS checked_first, "
                "array_agg(r.record_id ORDER BY r.record_id) FILTER (WHERE NOT EXISTS ("
                f"SELECT 1 FROM {self.s}.checks c WHERE c.department = r.department AND c.code = r.subject_code "
                "AND CAST(c.at AT TIME ZONE 'Asia/Shanghai' AS date) <= r.decision_date)) AS unchecked "
                f"FROM {self.s}.records r WHERE r.record_type = 'administrative_licensing' "
                "AND r.decision_date >= :first AND r.decision_date < :after "
                "AND (CAST(:dept AS text) IS NULL OR r.department = :dept) GROUP BY r.department ORDER BY r.department"
            ),
            {"first": first, "after": after, "dept": department},
        )
        return [dict(r._mapping) for r in rows]
