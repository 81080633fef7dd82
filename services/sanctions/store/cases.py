"""What the ticker and the API ask of the stored cases: which subjects to revisit, whom a person's ID reaches."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.db import sql
from services.sanctions.store.base import StoreBase


class CaseStore(StoreBase):
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
