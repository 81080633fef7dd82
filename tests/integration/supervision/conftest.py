"""The supervision app in-process (real PostgreSQL and Kafka, the session's clock) and a producer for the
grade events grading publishes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from deploy.stack import Stack
from services.common.clock import FixedClock
from tests.helpers import served_in_process


@pytest.fixture(scope="package")
async def supervision(
    stack_env: dict[str, str], clock: FixedClock, tokens: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    from services.supervision.app import create_app
    from services.supervision.settings import SupervisionSettings

    # Small parts, so that the plans of these tests are published in several events as a county's are.
    app = create_app(SupervisionSettings(plan_part_bytes=1024), clock=clock)
    async with served_in_process(app, "supervision") as client:
        yield client


@pytest.fixture(scope="package")
async def grades_producer(stack: Stack) -> AsyncIterator[AIOKafkaProducer]:
    kafka = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, enable_idempotence=True, acks="all")
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()
