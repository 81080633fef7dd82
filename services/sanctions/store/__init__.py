"""The only SQL of the sanctions service. Every method runs inside a transaction its caller owns: it adds
and flushes, never commits. The schema is a parameter (default `sanctions`) so that an auditor can rebuild
the derived state from the topics into another schema beside the live one and compare.

- :mod:`.inputs` — objections and grades from the outcome topics; feedback records; the subject lock.
- :mod:`.cases` — cases, instructions (feedback state), related persons; what the ticker must revisit.
- :mod:`.reads` — cases and checks for the API; the check log.
"""

from __future__ import annotations

from services.sanctions.store.base import DEFAULT_SCHEMA
from services.sanctions.store.cases import CaseStore
from services.sanctions.store.inputs import InputStore
from services.sanctions.store.reads import ReadStore


class Store(InputStore, CaseStore, ReadStore):
    """All of the service's SQL, in one schema."""


__all__ = ["DEFAULT_SCHEMA", "Store"]
