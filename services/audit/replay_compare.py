"""Comparing derived tables of a live schema and a rebuilt (scratch) schema, row by row.

Only the columns that follow from the events and the as-of date are compared: processing times
(`computed_on`, `updated_at`, `published_at` …) and the history of sent events depend on when the live
service happened to run, so they are left out. Rows are keyed; each row is turned into canonical JSON, and
the table's digest is the SHA-256 of its sorted canonical rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.manifest import ReplaySeed, TableSpec
from services.manifests import MANIFESTS

# The derived tables and their compared columns are declared by each service's manifest.
TABLES: tuple[TableSpec, ...] = tuple(t for m in MANIFESTS if m.replay is not ReplaySeed.NONE for t in m.tables)


@dataclass
class TableComparison:
    spec: TableSpec
    live_rows: int
    rebuilt_rows: int
    digest: str  # of the live rows (equal to the rebuilt digest when identical)
    only_live: list[str] = field(default_factory=list)
    only_rebuilt: list[str] = field(default_factory=list)
    differing: list[tuple[str, dict[str, tuple[Any, Any]]]] = field(
        default_factory=list
    )  # key → column → (live, rebuilt)

    @property
    def identical(self) -> bool:
        return not (self.only_live or self.only_rebuilt or self.differing)

    def lines(self, limit: int | None = None) -> list[str]:
        """Every difference (an auditor needs the whole list; `limit` shortens it for a quick look)."""
        name = f"{self.spec.service}.{self.spec.table}"
        if self.identical:
            return [f"{name}: identical ({self.live_rows} rows, sha256 {self.digest})"]
        limit = limit if limit is not None else len(self.only_live) + len(self.only_rebuilt) + len(self.differing)
        out = [
            f"{name}: DIFFERENT (live {self.live_rows} rows, rebuilt {self.rebuilt_rows}; "
            f"{len(self.only_live)} only live, {len(self.only_rebuilt)} only rebuilt, {len(self.differing)} differ)"
        ]
        out += [f"  only in live:    {k}" for k in self.only_live[:limit]]
        out += [f"  only in rebuilt: {k}" for k in self.only_rebuilt[:limit]]
        for key, columns in self.differing[:limit]:
            out.append(f"  {key}:")
            out += [f"    {c}: live={_show(a)} rebuilt={_show(b)}" for c, (a, b) in sorted(columns.items())]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": f"{self.spec.service}.{self.spec.table}",
            "identical": self.identical,
            "live_rows": self.live_rows,
            "rebuilt_rows": self.rebuilt_rows,
            "sha256": self.digest,
            "only_live": self.only_live,
            "only_rebuilt": self.only_rebuilt,
            "differing": [
                {"key": key, "columns": {c: {"live": a, "rebuilt": b} for c, (a, b) in sorted(cols.items())}}
                for key, cols in self.differing
            ],
        }


def _show(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _canonical(value: Any) -> Any:
    """JSON-stable form of a column value (dates and decimals as text, jsonb as parsed)."""
    return orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS))


async def read_table(
    conn: AsyncConnection, schema: str, spec: TableSpec, subjects: Collection[str] | None
) -> dict[str, dict[str, Any]]:
    """The compared columns of every row (of `subjects` if given), by key joined with '/'."""
    columns = ", ".join((*spec.key, *spec.columns, *(f"({sql}) AS {name}" for name, sql in spec.computed)))
    where, params = "", {}
    if subjects is not None:
        where, params = f" WHERE {spec.subject} = ANY(:codes)", {"codes": list(subjects)}
    rows = await conn.execute(text(f'SELECT {columns} FROM "{schema}".{spec.table}{where}'), params)
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        values = {k: _canonical(v) for k, v in row._mapping.items()}
        found["/".join(str(values[k]) for k in spec.key)] = values
    return found


def digest(rows: Mapping[str, Mapping[str, Any]]) -> str:
    h = hashlib.sha256()
    for key in sorted(rows):
        h.update(orjson.dumps(rows[key], option=orjson.OPT_SORT_KEYS))
        h.update(b"\n")
    return h.hexdigest()


def compare(
    spec: TableSpec, live: Mapping[str, dict[str, Any]], rebuilt: Mapping[str, dict[str, Any]]
) -> TableComparison:
    result = TableComparison(spec, len(live), len(rebuilt), digest(live))
    result.only_live = sorted(live.keys() - rebuilt.keys())
    result.only_rebuilt = sorted(rebuilt.keys() - live.keys())
    for key in sorted(live.keys() & rebuilt.keys()):
        columns = {c: (live[key][c], rebuilt[key][c]) for c in spec.compared if live[key][c] != rebuilt[key][c]}
        if columns:
            result.differing.append((key, columns))
    return result
