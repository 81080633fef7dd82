"""The sanctions app in-process (real PostgreSQL and Kafka, the session's movable clock), and a producer
for the outcome events other services publish (objections from publish, grades from grading)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from deploy.stack import Stack
from services.common.clock import FixedClock
from tests.helpers import served_in_process


@pytest.fixture(scope="session")
async def sanctions(
    stack_env: dict[str, str], clock: FixedClock, tokens: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    from services.sanctions.app import create_app
    from services.sanctions.settings import SanctionsSettings

    app = create_app(SanctionsSettings(tick_seconds=0.2), clock=clock)
    async with served_in_process(app, "sanctions") as client:
        yield client


@pytest.fixture(scope="session")
async def producer(stack: Stack) -> AsyncIterator[AIOKafkaProducer]:
    kafka = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, enable_idempotence=True, acks="all")
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()
