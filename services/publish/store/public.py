"""The public queries (一站式查询) on a small asyncpg pool of their own.

They are the hot path (a few hundred requests per second, p99 under 20 ms): a plain asyncpg pool costs a
third of a pooled SQLAlchemy connection with pre-ping per query. The public JSON is stored ready to serve
and completed as text (objection flag and status), so a request neither parses nor renders JSON.

One query plan per kind of query (EXPLAIN of each in docs/decisions.md, issue 19):

- a whole credit code: the partial index ``disclosures_subject_order`` (subject code, then newest first), so
  the page is read in order and stops at the limit, no sort;
- part of a name (a prefix is a part too: the search means "contains"), in two bounded steps of ONE
  statement: the fragment is first looked for among the :data:`RECENT_WINDOW` newest records (a common
  fragment such as 重庆 fills a page there at once, an index-only scan of ``disclosures_public_order``);
  only when that found less than a page, among the published names (``search_names``: one row per code and
  public name, GIN on the name's characters and character pairs), reading at most a page of each matching
  name's newest records (index-only scans of ``disclosures_subject_order``), so a subject's hundreds of
  records cost a page (a one-time filter: this step is never started otherwise). ``ILIKE`` decides in both
  (``LIKE`` for a term without letters: :func:`_like`);
- nothing: the newest first, ``disclosures_public_order``.

Statements are prepared once per connection (asyncpg's statement cache). Lookups whose best plan does not
depend on the values (a code, a public id, a list page, the name search, whose two steps have the same plan
whatever the fragment) run on connections that keep PostgreSQL's plan cache (a generic plan after a few
executions: no planning per request); the count of a name fragment's matches depends on how rare it is, so
it runs on connections that plan each execution for its own values.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date
from typing import Any

import asyncpg

RECENT_WINDOW = 1000
COUNT_CAP = 1000
"""A result count above this is shown as "more than 1000" (the count stops there)."""
_ORDER = " ORDER BY decision_date DESC, public_id DESC"
# The stored JSON object, its closing brace replaced by the objection state: text, never parsed. Done here,
# not in SQL: `left(content, -1) || …` counted and copied each ~1.5 kB multibyte text in PostgreSQL, ~150 µs of
# the server's CPU per page of 21 (measured on the bench's records), against a slice and a join here.
_COLUMNS = "content, objection_pending"
_PENDING = ',"objection_pending":true,"status":"异议处理中"}'
_SHOWN = ',"objection_pending":false,"status":"公示中"}'


def _body(row: asyncpg.Record) -> str:
    """The public JSON of a row selected with :data:`_COLUMNS`."""
    content: str = row["content"]
    return content[:-1] + (_PENDING if row["objection_pending"] else _SHOWN)


_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.PostgresConnectionError,  # the connection was lost
    asyncpg.exceptions.OperatorInterventionError,  # the server is shutting down or starting
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections
)


async def _keep_session(_: asyncpg.Connection) -> None:
    """No reset query when a connection goes back to the pool: asyncpg's default (advisory unlock, CLOSE ALL,
    UNLISTEN, RESET ALL) is one more round trip per public read, as much PostgreSQL CPU as a code lookup.
    These connections take no lock, open no cursor, LISTEN to nothing and SET nothing; an open transaction is
    still rolled back by the pool itself (``Connection._reset``)."""


def _caseless(ch: str) -> bool:
    o = ord(ch)
    if o < 0x80:
        return not ch.isalpha()
    return (
        0x3000 <= o <= 0x303F  # CJK symbols and punctuation (、。「」…)
        or 0x3400 <= o <= 0x4DBF  # CJK ideographs, extension A
        or 0x4E00 <= o <= 0x9FFF  # CJK unified ideographs
        or 0xF900 <= o <= 0xFAFF  # CJK compatibility ideographs
        or 0x20000 <= o <= 0x3FFFF  # CJK ideographs, extensions B and later
        or 0xFF01 <= o <= 0xFF20  # full-width punctuation and digits (not the letters after them)
        or 0xFF3B <= o <= 0xFF40
        or 0xFF5B <= o <= 0xFF65
        or o in _CASELESS_PUNCTUATION
    )


_CASELESS_PUNCTUATION = frozenset((0xB7, 0x2013, 0x2014, 0x2018, 0x2019, 0x201C, 0x201D, 0x2026))


def _like(pattern: str) -> str:
    """``LIKE`` when it finds exactly what ``ILIKE`` finds for ``pattern``, else ``ILIKE``.

    In a UTF-8 database ``name ILIKE p`` is ``lower(name) LIKE lower(p)`` (PostgreSQL's
    ``Generic_Text_IC_like``): every row's name is lower-cased first, ~2.5 µs per name against ~0.1 µs for
    ``LIKE`` (measured on the bench's names; a miss compares 1,000 recent names and every published name).
    When every character of the pattern is one no case mapping produces or changes (CJK ideographs and
    punctuation, digits, ASCII punctuation and the escapes ``%``/``_``/``\\``), lower(p) = p and a
    character of lower(name) equals one of p's only where the name has that very character, so lower(name)
    matches p exactly where name does: the answer is the same, without lower-casing the names. A search
    with any letter (Latin, Greek, full-width …) keeps ``ILIKE``."""
    return "LIKE" if all(_caseless(ch) for ch in pattern) else "ILIKE"


class ReadsUnavailable(RuntimeError):
    """The database cannot answer a public query right now (the API answers 503)."""


class PublicReads:
    """Created at start (no connection yet); connects on first use; :meth:`close` at shutdown."""

    def __init__(self, dsn: str, *, size: int, schema: str = "publish") -> None:
        self._dsn, self._size, self._s = dsn, size, schema
        # plan_cache_mode → pool: "auto" for lookups by value and the search, "force_custom_plan" for counts.
        self._pools: dict[str, asyncpg.Pool] = {}
        self._lock = asyncio.Lock()

    async def _fetch(self, sql: str, *args: Any, custom_plan: bool = False) -> list[asyncpg.Record]:
        for attempt in (1, 2):  # a connection the server dropped is replaced once, then we give up
            try:
                pool = await self._connected("force_custom_plan" if custom_plan else "auto")
                async with pool.acquire(timeout=2) as conn:
                    rows: list[asyncpg.Record] = await conn.fetch(sql, *args, timeout=5)
                    return rows
            except _UNAVAILABLE as exc:  # the database's trouble, not the query's: retried once, then 503
                if attempt == 2:
                    raise ReadsUnavailable(f"{type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")

    async def _connected(self, plan_cache_mode: str) -> asyncpg.Pool:
        pool = self._pools.get(plan_cache_mode)
        if pool is not None:  # every request but the first: no lock to take
            return pool
        async with self._lock:
            pool = self._pools.get(plan_cache_mode)
            if pool is None:
                pool = self._pools[plan_cache_mode] = await asyncpg.create_pool(
                    self._dsn,
                    min_size=1,
                    max_size=self._size,
                    reset=_keep_session,
                    server_settings={
                        "application_name": "credit-exchange-publish-reads",
                        "timezone": "UTC",
                        "plan_cache_mode": plan_cache_mode,
                    },
                )
            return pool

    async def close(self) -> None:
        for pool in self._pools.values():
            await pool.close()

    async def generation(self) -> tuple[str, int] | None:
        """The generation of what these reads show (``publish.public_generation``, bumped in the transaction
        of every change to ``publish.disclosures``): the public read cache's check, one cheap statement."""
        rows = await self._fetch(f"SELECT epoch::text AS epoch, n FROM {self._s}.public_generation")
        return (str(rows[0]["epoch"]), int(rows[0]["n"])) if rows else None

    async def published(self, public_id: str) -> str | None:
        """The public JSON of a published disclosure, ready to send."""
        sql = f"SELECT {_COLUMNS} FROM {self._s}.disclosures WHERE public_id = $1 AND state = 'published'"
        rows = await self._fetch(sql, public_id)
        return _body(rows[0]) if rows else None

    async def withdrawn(self, public_id: str) -> str | None:
        """The stored public JSON of a disclosure a revocation or correction took off the portal (the caller
        shows only its notice, services/publish/rules/withdrawal.py); None for any other record."""
        sql = (
            f"SELECT content FROM {self._s}.disclosures WHERE public_id = $1 AND state = 'withdrawn' "
            'AND content::jsonb @> \'{"amendment": {"withdrawn": true}}\''
        )
        rows = await self._fetch(sql, public_id)
        return str(rows[0]["content"]) if rows else None

    async def search(
        self,
        *,
        code: str | None = None,
        fragment: tuple[str, list[str]] | None = None,
        before: tuple[date, str] | None = None,
        record_types: Sequence[str] | None = None,
        limit: int,
    ) -> list[tuple[date, str, str]]:
        """(decision date, public id, public JSON) of published disclosures, newest decision first: by exact
        code, by part of the name (``fragment`` = (ILIKE pattern, query tokens)), or all; of the given
        record types only when ``record_types`` is given (the portal's list pages)."""
        where, args = "state = 'published'", list[Any]([limit])
        if before is not None:
            where += " AND (decision_date, public_id) < ($2, $3)"
            args += [before[0], before[1]]
        if record_types is not None:
            args.append(list(record_types))
            where += f" AND record_type = ANY(${len(args)}::text[])"
        n = len(args)
        select = f"SELECT decision_date, public_id, {_COLUMNS} FROM {self._s}.disclosures"
        if code is not None:
            rows = await self._fetch(
                f"{select} WHERE {where} AND subject_code = ${n + 1}{_ORDER} LIMIT $1", *args, code
            )
        elif fragment is None:
            rows = await self._fetch(f"{select} WHERE {where}{_ORDER} LIMIT $1", *args)
        else:
            pattern, tokens = fragment
            op = _like(pattern)
            # `found` holds the newest page of every matching (code, name), so every match's page, those of
            # the recent window included (the tokens are a necessary condition): the page is the recent
            # matches when they fill it, else found's first. The names come from `search_names` (one row per
            # published code and name, GIN on its tokens), each name's page from `disclosures_subject_order`
            # (index only, stops at the limit): a subject with hundreds of records costs one page, not all
            # its rows. `(SELECT count(*) FROM recent)` is an init plan: a one-time filter that skips it.
            # ILIKE before the tokens: when the names are few enough for a sequential scan, `@>` on every
            # row (each token against each of the row's) cost 12 ms for 488 names, ILIKE first 0.3 ms.
            both = (
                f"WITH recent AS MATERIALIZED (SELECT decision_date, public_id FROM (SELECT decision_date, "
                f"public_id, subject_name FROM {self._s}.disclosures WHERE {where}{_ORDER} LIMIT {RECENT_WINDOW}) "
                f"AS window_ WHERE subject_name {op} ${n + 1}{_ORDER} LIMIT $1), "
                "found AS MATERIALIZED (SELECT each.decision_date, each.public_id "
                f"FROM {self._s}.search_names AS name_ "
                f"CROSS JOIN LATERAL (SELECT decision_date, public_id FROM {self._s}.disclosures WHERE {where} "
                f"AND subject_code = name_.subject_code AND subject_name = name_.subject_name{_ORDER} LIMIT $1) "
                f"AS each "
                f"WHERE (SELECT count(*) FROM recent) < $1 AND name_.subject_name {op} ${n + 1} "
                f"AND name_.search_tokens @> ${n + 2}::text[]), "
                f"page AS (SELECT public_id FROM recent WHERE (SELECT count(*) FROM recent) >= $1 "
                f"UNION ALL (SELECT public_id FROM found{_ORDER} LIMIT $1)) "
                f"{select} JOIN page USING (public_id){_ORDER}"
            )
            rows = await self._fetch(both, *args, pattern, tokens)
        return [(r["decision_date"], r["public_id"], _body(r)) for r in rows]

    async def count(
        self,
        *,
        code: str | None = None,
        fragment: tuple[str, list[str]] | None = None,
        record_types: Sequence[str] | None = None,
        cap: int = COUNT_CAP,
    ) -> int:
        """How many published disclosures :meth:`search` would find in all, counted up to ``cap`` + 1 (the
        portal says "more than ``cap``" rather than scan every row a one-character fragment matches)."""
        where, args = "state = 'published'", list[Any]([cap + 1])
        if record_types is not None:
            args.append(list(record_types))
            where += f" AND record_type = ANY(${len(args)}::text[])"
        if fragment is not None and code is None:
            # Per matching (code, name) as the search (index-only scans of the subject's rows), not a heap
            # read of every row the tokens match.
            args += [fragment[0], fragment[1]]
            sql = (
                f"SELECT count(*) AS n FROM (SELECT 1 FROM {self._s}.search_names AS name_ CROSS JOIN LATERAL "
                f"(SELECT 1 FROM {self._s}.disclosures WHERE {where} AND subject_code = name_.subject_code "
                "AND subject_name = name_.subject_name LIMIT $1) AS each "
                f"WHERE name_.subject_name {_like(fragment[0])} ${len(args) - 1} "
                f"AND name_.search_tokens @> ${len(args)}::text[] "
                "LIMIT $1) AS found"
            )
            rows = await self._fetch(sql, *args, custom_plan=True)
            return int(rows[0]["n"])
        if code is not None:
            args.append(code)
            where += f" AND subject_code = ${len(args)}"
        sql = f"SELECT count(*) AS n FROM (SELECT 1 FROM {self._s}.disclosures WHERE {where} LIMIT $1) AS found"
        rows = await self._fetch(sql, *args)
        return int(rows[0]["n"])

    async def commitments(
        self, kind: str, *, before: tuple[date, str] | None = None, limit: int
    ) -> list[tuple[date, str, str]]:
        """Published 信用承诺 of one commitment_kind (信用修复型 …), newest decision first (the portal's
        commitment pages)."""
        where = (
            "state = 'published' AND record_type = 'credit_commitment' "
            "AND content::jsonb #>> '{data,commitment_kind}' = $2"
        )
        args: list[Any] = [limit, kind]
        if before is not None:
            where += " AND (decision_date, public_id) < ($3, $4)"
            args += [before[0], before[1]]
        rows = await self._fetch(
            f"SELECT decision_date, public_id, {_COLUMNS} FROM {self._s}.disclosures WHERE {where}{_ORDER} LIMIT $1",
            *args,
        )
        return [(r["decision_date"], r["public_id"], _body(r)) for r in rows]
