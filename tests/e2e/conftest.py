"""The four services as real processes, as `make up` runs them — only while the e2e tests run, so their
consumer groups never compete with the in-process services of the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deploy.stack import Stack


@pytest.fixture(scope="package")
def services_running(stack: Stack, tokens: dict[str, str]) -> Iterator[Stack]:
    try:
        stack.start_services()
        yield stack
    finally:
        # also when a service never became ready: left running, its consumers would join the groups of
        # the in-process services of every later test
        stack.stop_services()
