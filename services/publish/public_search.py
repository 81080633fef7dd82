"""The public search (``GET /v1/disclosures``, API.md "Publish") answered before FastAPI's routing (issue 19).

FastAPI's routing, dependency solving and parameter validation cost a search as much CPU as its SQL. This
pure ASGI middleware (inside the rate limiter, the body limit, the request id and the request metrics, so
they see every search as before; inside the public cache's fast path, which answers a repeated exact request
without parsing it) answers a search whose query string is plain (``api.plain_search_query``)
with the route's own :func:`api.search_body`, through the public read cache's same rules
(:meth:`PublicCache.answer`), and names the route in the scope so the request metrics and the log line say
``/v1/disclosures`` as before. Anything else goes on to the route untouched: an unusual spelling, a parameter
FastAPI would refuse (its 422 body), a value PostgreSQL refuses (the route's handlers answer it); the database
being unavailable is answered here with the route's 503 body. The route stays in the OpenAPI document."""

from __future__ import annotations

import logging
from collections.abc import Callable

from services.common.http import error_response
from services.common.metrics import ASGIApp, Receive, Scope, Send
from services.publish import api
from services.publish.context import PublishContext
from services.publish.public_cache import RawAnswer
from services.publish.store import ReadsUnavailable

log = logging.getLogger(__name__)

_JSON = (b"content-type", b"application/json")


class SearchFastPath:
    def __init__(self, app: ASGIApp, ctx: Callable[[], PublishContext | None], route: object) -> None:
        self.app = app
        self.ctx = ctx  # read per request: the context exists only once the app has started
        self.route = route  # the FastAPI route of the search, for the request metrics' route template

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != api.SEARCH_PATH or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        ctx = self.ctx()
        search = api.plain_search_query(scope.get("query_string", b"")) if ctx is not None else None
        if ctx is None or search is None:
            await self.app(scope, receive, send)
            return

        async def compute() -> RawAnswer:
            body = await api.search_body(ctx, search)
            return 200, [(b"content-length", str(len(body)).encode()), _JSON], body

        try:
            status, headers, body = await ctx.public_cache.answer(
                scope, ctx.reads, "search", search.key, compute, self.route
            )
        except ReadsUnavailable:
            problem = api._unavailable()
            scope["route"] = self.route
            await error_response(problem.status, problem.errors, problem.headers)(scope, receive, send)
            return
        except Exception:  # e.g. a value PostgreSQL refuses: the route computes again and its handlers answer
            # Said in the log: a fault of this path alone would otherwise only show as slower searches.
            log.warning("public search fell back to the route", exc_info=True, extra={"path": scope.get("path")})
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
