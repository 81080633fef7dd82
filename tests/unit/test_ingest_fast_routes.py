"""The two ingest POSTs are served by plain Starlette routes (issue 19); the OpenAPI document clients read
must be exactly the one their FastAPI twins describe."""

from __future__ import annotations

from starlette.routing import BaseRoute, Match, Route

from services.ingest.api import fast_routes
from services.ingest.app import create_app

HOT = ("/v1/records", "/v1/records:batch")
FAST = type(fast_routes()[0])
"""The plain Starlette route class ingest serves them with (a Route that names itself in the scope)."""


def _first_match(routes: list[BaseRoute], path: str) -> BaseRoute:
    scope = {"type": "http", "method": "POST", "path": path, "root_path": ""}
    return next(r for r in routes if r.matches(scope)[0] is Match.FULL)


def test_the_hot_posts_are_plain_routes_and_the_openapi_document_is_the_fastapi_one() -> None:
    app = create_app()
    for path in HOT:
        served = _first_match(app.router.routes, path)
        assert type(served) is FAST, f"POST {path} should be a plain Starlette route"
        assert issubclass(FAST, Route)
    documented = app.openapi()

    app.openapi_schema = None
    app.router.routes[:] = [r for r in app.router.routes if type(r) is not FAST or getattr(r, "path", None) not in HOT]
    for path in HOT:
        assert type(_first_match(app.router.routes, path)) is not FAST  # FastAPI's own route now
    assert app.openapi() == documented  # the document is built from the FastAPI twins alone

    for path, body_status in (("/v1/records", "202"), ("/v1/records:batch", "207")):
        operation = documented["paths"][path]["post"]
        assert operation["requestBody"]["required"] is True
        assert {body_status, "401", "413", "415", "422", "503"} <= set(operation["responses"])
        assert operation["security"] == [{"bearer": []}]
