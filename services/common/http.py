"""HTTP pieces every service shares: the error shape of API.md, bearer authentication, health and metrics.

Errors are always `{"errors": [{"path", "code", "message"}]}` with every problem found.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common import metrics
from services.common.auth import Authenticator, Principal, Role
from services.common.errors import ApiError as ApiError  # re-exported: endpoints raise ApiProblem with these

log = logging.getLogger(__name__)


class FastJSONResponse(JSONResponse):
    """orjson-rendered JSON (UTF-8, Chinese text unescaped)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class ApiProblem(Exception):
    """Raise from an endpoint to answer with the API.md error body."""

    def __init__(self, status: int, errors: Iterable[ApiError], headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.errors = list(errors)
        self.headers = headers or {}
        super().__init__("; ".join(e.message for e in self.errors))


def error_response(status: int, errors: Iterable[ApiError], headers: dict[str, str] | None = None) -> Response:
    return FastJSONResponse({"errors": [e.as_dict() for e in errors]}, status_code=status, headers=headers)


def _pointer(location: Iterable[Any]) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in location]
    return "/" + "/".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    async def on_problem(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiProblem)
        return error_response(exc.status, exc.errors, exc.headers)

    async def on_validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = []
        for err in exc.errors():
            loc = list(err.get("loc", ()))
            if loc and loc[0] in ("body", "query", "path", "header"):
                loc = loc[1:] if loc[0] == "body" else loc
            errors.append(ApiError(_pointer(loc), str(err.get("type", "invalid")), str(err.get("msg", "invalid"))))
        return error_response(422, errors)

    async def on_http(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
            415: "unsupported_media_type",
        }.get(exc.status_code, "http_error")
        return error_response(exc.status_code, [ApiError("", code, str(exc.detail))], getattr(exc, "headers", None))

    async def on_database_down(_: Request, exc: Exception) -> Response:
        log.warning("database unavailable during a request", extra={"error": type(exc).__name__})
        return error_response(
            503,
            [ApiError("", "unavailable", "the database is unavailable right now; nothing was changed. Retry later")],
            {"Retry-After": "2"},
        )

    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(DBAPIError, on_database_down)
    app.add_exception_handler(OSError, on_database_down)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)


def unauthenticated(message: str) -> ApiProblem:
    return ApiProblem(
        401,
        [ApiError("/headers/authorization", "unauthenticated", message)],
        {"WWW-Authenticate": 'Bearer realm="credit-exchange"'},
    )


def forbidden(message: str, path: str = "") -> ApiProblem:
    return ApiProblem(403, [ApiError(path, "forbidden", message)])


async def current_principal(request: Request) -> Principal | None:
    """The caller, or None for an anonymous call. A malformed or unknown token is refused, not ignored."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated("Authorization must be `Bearer <token>` (需要有效的访问令牌)")
    authenticator: Authenticator = request.app.state.authenticator
    principal = await authenticator.authenticate(token.strip())
    if principal is None:
        raise unauthenticated("the token is unknown, malformed or revoked (令牌无效或已吊销)")
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(current_principal)]


def require(*roles: Role) -> Callable[[Principal | None], Awaitable[Principal]]:
    """Dependency: the caller must hold one of `roles` (deny by default)."""
    allowed = frozenset(roles)

    async def dependency(principal: OptionalPrincipal) -> Principal:
        if principal is None:
            raise unauthenticated("this endpoint needs a bearer token (需要访问令牌)")
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise forbidden(f"role {principal.role.value} may not call this endpoint; allowed: {names}")
        return principal

    return dependency


def install_health(app: FastAPI, *, service: str, ready_checks: Callable[[], Awaitable[dict[str, str]]]) -> None:
    """`/healthz` (process up), `/readyz` (database and Kafka reachable), `/metrics` (Prometheus)."""

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return FastJSONResponse({"status": "ok", "service": service})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        problems = await ready_checks()
        status = 200 if not problems else 503
        return FastJSONResponse(
            {"status": "ok" if not problems else "unavailable", "service": service, "problems": problems},
            status_code=status,
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)
