"""The services as real processes (so they can be killed), for the fault tests of this package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deploy.stack import Stack


@pytest.fixture(scope="package")
def services_up(stack: Stack, tokens: dict[str, str]) -> Iterator[Stack]:
    stack.start_services()
    yield stack
    stack.stop_services()
