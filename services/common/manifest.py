"""A consuming service's manifest: what it is, once (docs/decisions.md, issue 18).

Each consuming service declares its name, its schema, the topics it consumes, its derived tables with the
columns that define equality, and how `exchange audit replay` seeds it. The topics and ACLs
(services/topics.py), the consumer's subscription (services/common/consumer_service.py), the DLQ and
re-drive commands, the CLI and the audit replay read the manifests (services/manifests.py); nothing
re-declares them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One derived table of a service: its key columns, the compared columns and its subject column."""

    service: str
    table: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    subject: str = "subject_code"
    computed: tuple[tuple[str, str], ...] = ()
    """(name, SQL expression) compared beside the columns, e.g. whether a disclosure is published now."""

    @property
    def compared(self) -> tuple[str, ...]:
        return (*self.columns, *(name for name, _ in self.computed))


class ReplaySeed(StrEnum):
    """How `exchange audit replay` rebuilds the service."""

    SCHEMA = "scratch schema"
    """Its migrations into a scratch schema beside the live one; its handlers applied to the consumed topics."""
    NONE = "not rebuilt"
    """Not rebuilt by `exchange audit replay` (yet): supervision, reports and the bridge hold no state the
    replay compares today (docs/decisions.md, issue 18)."""


@dataclass(frozen=True, slots=True)
class Manifest:
    name: str
    schema: str
    tables: tuple[TableSpec, ...]
    outcomes: tuple[str, ...] = ()
    """Outcome topics consumed besides every record topic of the catalogue (logical names)."""
    records: bool = True
    """Whether it consumes every record topic (the bridge reads outcome topics only)."""
    replay: ReplaySeed = ReplaySeed.SCHEMA
    replay_seeds: tuple[str, ...] = ()
    """Topics the replay also reads to seed what the live service takes from elsewhere (its own portal):
    publish's cases reach the topics only as their *filed* events."""

    def consumed(self, record_topics: tuple[str, ...]) -> tuple[str, ...]:
        """Logical names of every topic the live consumer reads (its re-drive topic aside)."""
        return (*(record_topics if self.records else ()), *self.outcomes)

    def replayed(self, record_topics: tuple[str, ...]) -> tuple[str, ...]:
        """Logical names of every topic the audit replay reads for this service."""
        return tuple(dict.fromkeys((*self.consumed(record_topics), *self.replay_seeds)))

    def __post_init__(self) -> None:
        for table in self.tables:
            if table.service != self.name:
                raise ValueError(f"manifest {self.name}: table {table.table} names service {table.service}")


def by_name(manifests: tuple[Manifest, ...]) -> Mapping[str, Manifest]:
    return {m.name: m for m in manifests}
