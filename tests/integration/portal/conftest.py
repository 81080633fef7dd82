"""The portal is served by the publish app, in-process (real PostgreSQL and Kafka of the test stack, the
session's clock). Package-scoped: it is stopped before the publish tests start their own instance, so two
consumers and tickers of the same service never run side by side."""

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from services.common.clock import FixedClock
from services.publish.portal import RateLimit
from tests.helpers import served_in_process


@pytest.fixture(scope="package")
async def publish(
    stack_env: dict[str, str], clock: FixedClock, tokens: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """The publish app with a fast ticker (0.2 s), spoken to over HTTP semantics."""
    from services.publish.app import create_app
    from services.publish.settings import PublishSettings

    app = create_app(PublishSettings(tick_seconds=0.2), clock=clock)
    async with served_in_process(app, "publish") as client:
        yield client


@pytest.fixture(autouse=True)
def generous_rate_limit(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test posts from the same client address: the limit is lifted except where a test sets its own."""
    if "publish" not in request.fixturenames:
        yield
        return
    client: httpx.AsyncClient = request.getfixturevalue("publish")
    state = client.app.state  # type: ignore[attr-defined]
    state.portal_rate_limit = RateLimit(10_000, 60)
    yield
    state.portal_rate_limit = RateLimit(10_000, 60)
