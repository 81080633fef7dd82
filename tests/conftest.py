"""Test fixtures: one real Kafka broker and one real PostgreSQL per run, started through the same deploy
code as `make up`, on free ports and in `.run/test`, so a running `make up` stack is never touched.
Tests isolate themselves with unique record ids and subject codes; nothing is mocked."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from deploy.processes import free_port, pid_alive, stop_pid_file
from deploy.stack import SERVICES, Stack, StackConfig
from services.common.clock import SHANGHAI, FixedClock
from tests.helpers import served_in_process

REPO = Path(__file__).resolve().parents[1]
TEST_RUNS = REPO / ".run" / "test"
# One folder per test run (named by pid), so parallel runs on one machine never touch each other's servers.
STATE = TEST_RUNS / str(os.getpid())
# "Today" for in-process services, unless a test moves the clock.
DEFAULT_NOW = datetime(2026, 11, 20, 15, 0, tzinfo=SHANGHAI)


def _clean_leftovers() -> None:
    """Stop whatever crashed earlier runs left behind (their pid is gone), then start from nothing."""
    for folder in [*TEST_RUNS.glob("*"), STATE] if TEST_RUNS.exists() else [STATE]:
        if folder != STATE and folder.name.isdigit() and pid_alive(int(folder.name)):
            continue  # another test run on this machine, still going
        for pid_file in folder.rglob("*.pid"):
            stop_pid_file(pid_file, timeout=20)
        Stack(StackConfig(state_dir=folder, external_kafka=None, external_database=None)).postgres.destroy()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    _clean_leftovers()
    config = StackConfig(
        state_dir=STATE,
        kafka_port=free_port(),
        controller_port=free_port(),
        pg_port=free_port(),
        service_ports={svc: free_port() for svc in SERVICES},
        topic_prefix=f"t{uuid.uuid4().hex[:6]}.",
        # The shared broker is the plain one whatever EXCHANGE_KAFKA_SECURE says: tests read topics without
        # a Kafka user; tests/reliability/test_kafka_acl.py starts a secure broker of its own.
        kafka_secure=False,
    )
    test_stack = Stack(config)
    try:
        test_stack.start_infra()
        yield test_stack
    finally:
        test_stack.stop_services()
        test_stack.stop_infra()


@pytest.fixture(scope="session")
def tokens(stack: Stack) -> dict[str, str]:
    return stack.ensure_demo_tokens()


@pytest.fixture(scope="session")
def stack_env(stack: Stack) -> Iterator[dict[str, str]]:
    """The stack's settings as environment variables, for in-process apps and the CLI."""
    values = stack.env()
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    yield values
    for key, old in saved.items():
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


@pytest.fixture(scope="session")
def clock() -> FixedClock:
    return FixedClock(DEFAULT_NOW)


@pytest.fixture
def at(clock: FixedClock) -> Iterator[FixedClock]:
    """A test that moves the clock gets it back at DEFAULT_NOW afterwards."""
    yield clock
    clock.set(DEFAULT_NOW)


@pytest.fixture(scope="session")
async def ingest(
    stack_env: dict[str, str], clock: FixedClock, tokens: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """The ingest app in-process (real database and Kafka, injected clock), spoken to over HTTP semantics."""
    from services.ingest.app import create_app
    from services.ingest.settings import IngestSettings

    app = create_app(IngestSettings(), clock=clock)
    async with served_in_process(app, "ingest") as client:
        yield client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
