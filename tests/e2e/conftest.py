"""The four services as real processes, as `make up` runs them — only while the e2e tests run, so their
consumer groups never compete with the in-process services of the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deploy.stack import Stack


@pytest.fixture(scope="package")
def services_running(stack: Stack, tokens: dict[str, str]) -> Iterator[Stack]:
    stack.start_services()
    yield stack
    stack.stop_services()
