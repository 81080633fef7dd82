"""The publish service in-process (real PostgreSQL and Kafka of the test stack, the session's clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.common.clock import FixedClock
from tests.helpers import served_in_process


@pytest.fixture(scope="session")
async def publish(
    stack_env: dict[str, str], clock: FixedClock, tokens: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """The publish app with a fast ticker (0.2 s), spoken to over HTTP semantics."""
    from services.publish.app import create_app
    from services.publish.settings import PublishSettings

    app = create_app(PublishSettings(tick_seconds=0.2), clock=clock)
    async with served_in_process(app, "publish") as client:
        yield client
