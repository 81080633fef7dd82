"""Which consumer failures are the environment's (retry the poll) and which the event's (dead-letter it)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from services.common.consumer import _is_transient


class ServerError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize("state", ["40P01", "40001", "55P03"])
def test_two_transactions_colliding_is_retried_not_blamed_on_the_event(state: str) -> None:
    # A deadlock between two replicas (or a replica and the ticker) says nothing about the event.
    assert _is_transient(DBAPIError("SELECT 1", {}, ServerError(state)))


@pytest.mark.parametrize("state", ["22P02", "23505", "22021"])
def test_a_value_the_database_refuses_is_the_events_fault(state: str) -> None:
    assert not _is_transient(DBAPIError("SELECT 1", {}, ServerError(state)))
