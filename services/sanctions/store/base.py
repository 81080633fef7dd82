"""What every part of the store shares: the schema it works in."""

from __future__ import annotations

from typing import Any

from services.common.envelope import dumps

DEFAULT_SCHEMA = "sanctions"


def as_json(value: Any) -> str:
    return dumps(value).decode()


class StoreBase:
    def __init__(self, schema: str = DEFAULT_SCHEMA) -> None:
        self.s = schema
