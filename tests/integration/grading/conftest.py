"""The grading service in-process (real PostgreSQL and Kafka of the test stack, the session's clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.common.clock import FixedClock
from tests.helpers import served_in_process


@pytest.fixture(scope="session")
async def grading(
    stack_env: dict[str, str], clock: FixedClock, tokens: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """The grading app with a fast ticker (0.2 s), spoken to over HTTP semantics."""
    from services.grading.app import create_app
    from services.grading.settings import GradingSettings

    app = create_app(GradingSettings(tick_seconds=0.2), clock=clock)
    async with served_in_process(app, "grading") as client:
        yield client
