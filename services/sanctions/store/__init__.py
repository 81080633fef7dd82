"""The only SQL of the sanctions service. Everything runs inside a transaction its caller owns: it adds
and flushes, never commits. The schema is a parameter (default `sanctions`) so that an auditor can rebuild
the derived state from the topics into another schema beside the live one and compare.

- :mod:`.poll` — handling a poll: its inputs added, its subjects locked and read, the changed rows written
  (module functions taking the schema).
- :mod:`.cases` — what the ticker must revisit; whom a person's ID number reaches.
- :mod:`.reads` — cases and checks for the API; the check log.
"""

from __future__ import annotations

from services.sanctions.store.base import DEFAULT_SCHEMA
from services.sanctions.store.cases import CaseStore
from services.sanctions.store.reads import ReadStore


class Store(CaseStore, ReadStore):
    """The service's queries for the ticker and the API, in one schema."""


__all__ = ["DEFAULT_SCHEMA", "Store"]
