"""The public contract in the repository (docs/API.md) names every operation the services declare in
their OpenAPI contract (schemas/openapi/operations.yaml, which the integration kit test holds equal to what
each service serves), and every page of the workbench, which serves no OpenAPI."""

from __future__ import annotations

import re

import yaml
from fastapi.routing import APIRoute

from services.common.settings import REPO_ROOT

PARAMETER = re.compile(r"\{[^}/]*\}")  # path parameters compare by position, not name
CONTRACT = PARAMETER.sub("{}", (REPO_ROOT / "docs" / "API.md").read_text(encoding="utf-8"))


def _named(method: str, path: str) -> bool:
    return f"{method} {PARAMETER.sub('{}', path)}" in CONTRACT


def test_every_operation_of_the_openapi_contract_is_named_in_api_md() -> None:
    declared = yaml.safe_load((REPO_ROOT / "schemas" / "openapi" / "operations.yaml").read_text(encoding="utf-8"))
    services = {name for name, ops in declared.items() if isinstance(ops, dict)}
    assert {"ingest", "grading", "sanctions", "publish", "supervision", "reports", "bridge"} <= services
    missing = [
        f"{service}: {key} ({op['id']})"
        for service in sorted(services)
        for key, op in declared[service].items()
        if not _named(*key.split(" ", 1))
    ]
    assert not missing, f"docs/API.md does not name {missing}"


def test_every_workbench_page_is_named_in_api_md() -> None:
    from services.workbench import pages, supervision

    routes = [r for router in (pages.router, supervision.router) for r in router.routes if isinstance(r, APIRoute)]
    assert routes
    missing = [f"{m} {r.path}" for r in routes for m in sorted(r.methods - {"HEAD"}) if not _named(m, r.path)]
    assert not missing, f"docs/API.md does not name the workbench pages {missing}"
