"""Disclosures (publish.disclosures): the derived state and the deadline rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.clock import SHANGHAI
from services.common.db import sql
from services.publish.rules.derive import Change, Derived, Previous, name_tokens, storage_key


async def disclosures_for_update(conn: AsyncConnection, schema: str, subject_code: str) -> dict[str, Previous]:
    return (await disclosures_of_subjects(conn, schema, [subject_code]))[subject_code]


async def disclosures_of_subjects(
    conn: AsyncConnection, schema: str, subject_codes: Sequence[str]
) -> dict[str, dict[str, Previous]]:
    """What is stored of each subject's disclosures, by public id, rows locked until the transaction ends
    (every subject asked for is present)."""
    rows = await conn.execute(
        sql(
            "SELECT subject_code, public_id, state, version, published_at, withdrawn_at, content, subject_name, "
            f"due_date, due_provisional, exempt, reason, withdraw_on FROM {schema}.disclosures "
            "WHERE subject_code = ANY(CAST(:s AS text[])) FOR UPDATE"
        ),
        {"s": list(subject_codes)},
    )
    found: dict[str, dict[str, Previous]] = {code: {} for code in subject_codes}
    for r in rows:
        found[r.subject_code][r.public_id] = _previous(r)
    return found


async def disclosures_by_id(conn: AsyncConnection, schema: str, public_ids: Sequence[str]) -> dict[str, Previous]:
    """What is stored of these disclosures (those that exist), by public id."""
    if not public_ids:
        return {}
    rows = await conn.execute(
        sql(
            "SELECT public_id, state, version, published_at, withdrawn_at, content, subject_name, "
            f"due_date, due_provisional, exempt, reason, withdraw_on FROM {schema}.disclosures "
            "WHERE public_id = ANY(CAST(:p AS text[]))"
        ),
        {"p": list(public_ids)},
    )
    return {r.public_id: _previous(r) for r in rows}


def _previous(r: Any) -> Previous:
    return Previous(
        r.state,
        r.version,
        r.published_at,
        r.withdrawn_at,
        _derived_part(r.content),
        (r.subject_name, r.due_date, r.due_provisional, r.exempt, r.reason, r.withdraw_on),
    )


def saved(derived: Derived, change: Change) -> Previous:
    """What `disclosures_for_update` reads back after `save_disclosures` of ``(derived, change)``."""
    return Previous(
        change.state,
        change.version,
        change.published_at,
        change.withdrawn_at,
        _derived_part(_content(derived, change)),
        storage_key(derived),
    )


def _content(derived: Derived, change: Change) -> str:
    return orjson.dumps(
        {**derived.content, "published_at": _shanghai(change.published_at)}, option=orjson.OPT_SORT_KEYS
    ).decode()


def _derived_part(content: str) -> dict[str, Any]:
    """The stored public JSON without what the clock added (the publication time)."""
    parsed: dict[str, Any] = orjson.loads(content)
    parsed.pop("published_at", None)
    return parsed


async def save_disclosures(
    conn: AsyncConnection, schema: str, writes: Sequence[tuple[Derived, Change]], now: datetime
) -> None:
    """Upsert the disclosures that changed, in order, as one executemany (a pipelined round trip for the
    poll): a statement awaited per disclosure cost publish more CPU than deriving them (bind, send and the
    SQLAlchemy call path once per row). Public ids are unique in ``writes`` (the handler keeps the last
    write of each), so no row is affected twice."""
    if not writes:
        return
    await conn.execute(
        sql(
            f"INSERT INTO {schema}.disclosures (public_id, department, record_id, record_type, subject_code, "
            "subject_name, search_tokens, decision_date, received_at, due_date, due_provisional, state, exempt, "
            "reason, published_at, withdrawn_at, publicity_until, withdraw_on, content, version, updated_at) "
            "VALUES (:pid, :dept, :rid, :type, :code, :name, :tokens, :decided, :received, :due, :provisional, :state, "
            ":exempt, :reason, :published, :withdrawn, :until, :withdraw_on, :content, :version, "
            ":now) ON CONFLICT (public_id) DO UPDATE SET subject_name = EXCLUDED.subject_name, "
            "search_tokens = EXCLUDED.search_tokens, "
            "due_date = EXCLUDED.due_date, due_provisional = EXCLUDED.due_provisional, state = EXCLUDED.state, "
            "exempt = EXCLUDED.exempt, reason = EXCLUDED.reason, published_at = EXCLUDED.published_at, "
            "withdrawn_at = EXCLUDED.withdrawn_at, publicity_until = EXCLUDED.publicity_until, "
            "withdraw_on = EXCLUDED.withdraw_on, content = EXCLUDED.content, version = EXCLUDED.version, "
            "updated_at = EXCLUDED.updated_at"
        ),
        [
            {
                "pid": derived.public_id,
                "dept": derived.department,
                "rid": derived.record_id,
                "type": derived.record_type,
                "code": derived.subject_code,
                "name": derived.subject_name,
                "tokens": name_tokens(derived.subject_name),
                "decided": derived.decision_date,
                "received": derived.received_at,
                "due": derived.due.date,
                "provisional": derived.due.provisional,
                "state": change.state,
                "exempt": derived.exempt,
                "reason": derived.reason,
                "published": change.published_at,
                "withdrawn": change.withdrawn_at,
                "until": derived.publicity_until,
                "withdraw_on": derived.withdraw_on,
                "content": _content(derived, change),
                "version": change.version,
                "now": now,
            }
            for derived, change in writes
        ],
    )


def _shanghai(instant: datetime | None) -> str | None:
    return instant.astimezone(SHANGHAI).isoformat() if instant is not None else None


async def subjects_to_refresh(conn: AsyncConnection, schema: str, today: date) -> list[str]:
    """Subjects with a published record whose 公示截止期 has passed, or a list entry whose period ended
    (list rows are ``exempt`` and carry ``withdraw_on`` only while in force, published or not)."""
    rows = await conn.execute(
        sql(
            f"SELECT DISTINCT subject_code FROM {schema}.disclosures "
            "WHERE withdraw_on <= :t AND (state = 'published' OR exempt)"
        ),
        {"t": today},
    )
    return [r.subject_code for r in rows]


async def provisional_disclosures(conn: AsyncConnection, schema: str) -> list[tuple[str, date]]:
    rows = await conn.execute(
        sql(f"SELECT subject_code, decision_date FROM {schema}.disclosures WHERE due_provisional")
    )
    return [(r.subject_code, r.decision_date) for r in rows]


async def deadline_rows(
    conn: AsyncConnection, schema: str, *, department: str | None, since: date
) -> list[dict[str, Any]]:
    """Records on the 7-working-day clock: every unpublished one, and those published decided since ``since``."""
    rows = await conn.execute(
        sql(
            "SELECT public_id, department, record_id, record_type, decision_date, received_at, due_date, "
            f"due_provisional, published_at, state, reason FROM {schema}.disclosures "
            "WHERE (CAST(:d AS text) IS NULL OR department = :d) AND ((published_at IS NULL AND NOT exempt) "
            "OR (published_at IS NOT NULL AND NOT exempt AND decision_date >= :since)) ORDER BY due_date, public_id"
        ),
        {"d": department, "since": since},
    )
    return [dict(r._mapping) for r in rows]


async def rows_due_between(
    conn: AsyncConnection, schema: str, table: str, due_column: str, *, department: str | None, first: date, after: date
) -> list[dict[str, Any]]:
    """Rows of ``disclosures`` / ``objections`` / ``repairs`` / ``withdrawals`` due in [first, after)."""
    known = {
        ("disclosures", "due_date"),
        ("objections", "due_date"),
        ("repairs", "decide_due"),
        ("withdrawals", "due_date"),
    }
    if (table, due_column) not in known:
        raise ValueError(f"no scorecard over {table}.{due_column}")
    exempt = " AND NOT exempt" if table == "disclosures" else ""
    rows = await conn.execute(
        sql(
            f"SELECT * FROM {schema}.{table} WHERE {due_column} >= :first AND {due_column} < :after{exempt} "
            "AND (CAST(:d AS text) IS NULL OR department = :d)"
        ),
        {"d": department, "first": first, "after": after},
    )
    return [dict(r._mapping) for r in rows]
