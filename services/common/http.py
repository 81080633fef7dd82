"""HTTP pieces every service shares: the error shape of API.md, bearer authentication, health and metrics.

Errors are always `{"errors": [{"path", "code", "message"}]}` with every problem found, plus the RFC 9457
members `type`, `title`, `status`, `detail` (services/common/errors.py `problem_body`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any

import asyncpg
import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.telemetry import TelemetryConfig
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common import metrics
from services.common.auth import Authenticator, Principal, Role
from services.common.errors import ApiError as ApiError  # re-exported: endpoints raise ApiProblem with these
from services.common.errors import problem_body

log = logging.getLogger(__name__)

# SQLSTATEs that say "the database cannot do it now", not "the request is wrong": class 53
# insufficient_resources (53100 disk_full, 53200 out_of_memory, 53300 too_many_connections …), and a
# statement that ran out of time (57014 query_canceled by statement_timeout, 55P03 lock_not_available by
# lock_timeout) because a slow disk or another session holds it up.
SLOW_SQLSTATES = frozenset({"57014", "55P03"})


def sqlstate(exc: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE behind a SQLAlchemy/asyncpg error, if the server sent one."""
    orig = getattr(exc, "orig", None)
    for candidate in (orig, getattr(orig, "__cause__", None), exc):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str) and state:
            return state
    return None


def database_problem(exc: BaseException) -> tuple[str, str, int]:
    """(code, message, Retry-After seconds) of a database failure during a request; nothing was changed."""
    state = sqlstate(exc)
    if state is not None and state.startswith("53"):
        return (
            "database_full",
            f"the database has no room to do this right now (SQLSTATE {state}: disk full or out of resources); "
            "nothing was changed. Retry later",
            30,
        )
    if state in SLOW_SQLSTATES:
        return (
            "database_slow",
            f"the database did not answer in time (SQLSTATE {state}); nothing was changed. Retry later",
            5,
        )
    return "unavailable", "the database is unavailable right now; nothing was changed. Retry later", 2


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
    return FastJSONResponse(problem_body(status, list(errors)), status_code=status, headers=headers)


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

    async def on_database_down(request: Request, exc: Exception) -> Response:
        if (sqlstate(exc) or "").startswith("22"):  # data exception: a value the request sent, see below
            return await on_unstorable_value(request, exc)
        code, message, retry_after = database_problem(exc)
        log.warning(
            "database unavailable during a request",
            extra={"error": type(exc).__name__, "sqlstate": sqlstate(exc), "code": code},
        )
        return error_response(503, [ApiError("", code, message)], {"Retry-After": str(retry_after)})

    async def on_unstorable_value(_: Request, exc: Exception) -> Response:
        # SQLSTATE class 22 (data exception): PostgreSQL refused a value the caller sent — above all the NUL
        # character (U+0000), which no text or jsonb column can hold. The request's fault, never a 503
        # "retry later" (it would fail forever) nor a 500 (found by tests/security/test_bad_input.py).
        log.info("value refused by the database", extra={"error": type(exc).__name__, "sqlstate": sqlstate(exc)})
        message = (
            "请求中含有无法保存或查询的字符或数值（如空字符 U+0000），请删除后重试 (the request carries a character or "
            "value the exchange cannot store or search for, such as the NUL character U+0000; remove it)"
        )
        return error_response(422, [ApiError("", "invalid_value", message)])

    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(asyncpg.exceptions.DataError, on_unstorable_value)  # raw asyncpg (public reads)
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


def department_scope(caller: Principal, department: str | None, refusal: str) -> str | None:
    """The `department=` a read is limited to: a department reads only its own (its code, whether asked
    for or not; another's is 403 with `refusal`), county and auditor read any (None: all)."""
    if caller.role is not Role.DEPARTMENT:
        return department
    if department not in (None, caller.department):
        raise forbidden(refusal, "/query/department")
    return caller.department


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
    if principal.role is Role.WORKBENCH:
        principal = acting_for(principal, request.headers.get(ACT_AS_HEADER), request.headers.get(USER_HEADER))
    request.state.credential_id = principal.credential_id  # for the HTTP request log (metrics.RequestMetrics)
    return principal


ACT_AS_HEADER = "x-exchange-act-as"
"""`department:<code>` or `county`: whom the workbench acts for in this request (issue 17)."""
USER_HEADER = "x-exchange-user"
"""The signed-in staff member's user name, so the access log names a person, not the workbench."""


def acting_for(workbench: Principal, act_as: str | None, user: str | None) -> Principal:
    """The principal a workbench request stands for: the department (or county office) of the staff member
    who is signed in to the workbench, attributed to that user (`<credential>:<user>` in the access log).
    Without the headers the workbench credential keeps its own role, which no endpoint allows."""
    if act_as is None or not user:
        return workbench
    if not (0 < len(user) <= 64 and user.isprintable()):
        raise unauthenticated("x-exchange-user must be a printable user name of at most 64 characters")
    name = f"{user} (工作台)"
    credential = f"{workbench.credential_id}:{user}"
    if act_as == "county":
        return Principal(credential, Role.COUNTY, None, name)
    kind, _, department = act_as.partition(":")
    if kind != "department" or not department:
        raise unauthenticated("x-exchange-act-as must be `department:<code>` or `county`")
    return Principal(credential, Role.DEPARTMENT, department, name)


OptionalPrincipal = Annotated[Principal | None, Depends(current_principal)]


NO_OPEN_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
"""FastAPI's native OpenTelemetry, off: the services export Prometheus metrics (/metrics), and with it on
FastAPI looks up the global OpenTelemetry providers (an os.environ read) on every request."""


async def authorize(request: Request, allowed: frozenset[Role]) -> Principal:
    """The caller, who must hold one of `allowed` (deny by default): 401 without a valid token, 403 for
    another role. `require()` is this as a dependency; the hot ingest endpoints call it directly, because
    FastAPI's dependency resolution costs more per request than the check itself."""
    principal = await current_principal(request)
    if principal is None:
        raise unauthenticated("this endpoint needs a bearer token (需要访问令牌)")
    if principal.role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed))
        raise forbidden(f"role {principal.role.value} may not call this endpoint; allowed: {names}")
    return principal


def require(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """Dependency: the caller must hold one of `roles` (deny by default)."""
    allowed = frozenset(roles)

    async def dependency(request: Request) -> Principal:
        return await authorize(request, allowed)

    return dependency


def install_health(
    app: FastAPI,
    *,
    service: str,
    ready_checks: Callable[[], Awaitable[dict[str, str]]],
    dependencies: Callable[[], dict[str, str]] | None = None,
) -> None:
    """`/healthz` (process up), `/readyz` (ready to serve: `problems` says why not, `dependencies` each
    dependency's state, read after the checks ran), `/metrics` (Prometheus)."""

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return FastJSONResponse({"status": "ok", "service": service})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        problems = await ready_checks()
        status = 200 if not problems else 503
        body: dict[str, Any] = {"status": "ok" if not problems else "unavailable", "service": service}
        body["problems"] = problems
        if dependencies is not None:
            body["dependencies"] = dependencies()
        return FastJSONResponse(body, status_code=status)

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)
