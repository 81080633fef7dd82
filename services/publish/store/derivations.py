"""Derivation stamps (publish.derivations): which derivation of a subject its stored disclosures come from.

Every transaction that keeps a subject's records or writes its disclosures derives the subject under its
lock and gives it a new random stamp here (handlers.py). A handler that kept what it derived about a subject
(its :class:`~services.publish.rules.derive.SubjectView`, the as-of day) may use it only while the stored
stamp is still the one it gave: any other writer (another replica, the ticker, a transaction that rolled
back) leaves another stamp, and the subject is then derived whole again.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.db import sql


async def restamp(
    conn: AsyncConnection, schema: str, subject_codes: Sequence[str]
) -> dict[str, tuple[int | None, int]]:
    """Give each subject a new stamp (caller holds the subjects' locks); (the stamp it had, None when it had
    none, and the new one), in one round trip."""
    codes = list(subject_codes)
    stamps = [secrets.randbits(63) for _ in codes]
    rows = await conn.execute(
        sql(
            f"WITH old AS (SELECT subject_code, stamp FROM {schema}.derivations "
            "WHERE subject_code = ANY(CAST(:s AS text[]))), "
            f"new AS (INSERT INTO {schema}.derivations (subject_code, stamp) "
            "SELECT * FROM unnest(CAST(:s AS text[]), CAST(:v AS bigint[])) "
            "ON CONFLICT (subject_code) DO UPDATE SET stamp = EXCLUDED.stamp RETURNING subject_code, stamp) "
            "SELECT new.subject_code, old.stamp AS before, new.stamp AS after FROM new "
            "LEFT JOIN old ON old.subject_code = new.subject_code"
        ),
        {"s": codes, "v": stamps},
    )
    return {r.subject_code: (r.before, r.after) for r in rows}
