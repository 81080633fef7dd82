"""The reports service in-process, with the publish and grading services whose outcome events it reads
(real PostgreSQL and Kafka of the test stack, the session's clock). Package-scoped, like the portal's
publish: never two consumers of one service side by side across packages."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.common.clock import FixedClock
from tests.helpers import served_in_process


@pytest.fixture(scope="package")
async def publish(
    stack_env: dict[str, str], clock: FixedClock, tokens: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    from services.publish.app import create_app
    from services.publish.settings import PublishSettings

    app = create_app(PublishSettings(tick_seconds=0.2), clock=clock)
    async with served_in_process(app, "publish") as client:
        yield client


@pytest.fixture(scope="package")
async def grading(
    stack_env: dict[str, str], clock: FixedClock, tokens: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    from services.grading.app import create_app
    from services.grading.settings import GradingSettings

    app = create_app(GradingSettings(tick_seconds=0.2), clock=clock)
    async with served_in_process(app, "grading") as client:
        yield client


@pytest.fixture(scope="package")
async def reports(
    stack_env: dict[str, str], clock: FixedClock, tokens: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    from services.reports.app import create_app
    from services.reports.settings import ReportsSettings

    app = create_app(ReportsSettings(), clock=clock)
    async with served_in_process(app, "reports") as client:
        yield client
