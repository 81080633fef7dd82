"""Prometheus metrics every service exposes at /metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from services.common import request_id

REQUESTS = Counter("exchange_http_requests_total", "HTTP requests", ["service", "route", "method", "status"])
LATENCY = Histogram(
    "exchange_http_request_seconds",
    "HTTP request latency",
    ["service", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
OUTBOX_BACKLOG = Gauge("exchange_outbox_backlog", "Rows waiting in the outbox", ["schema"])
WEBHOOK_BACKLOG = Gauge(
    "exchange_webhook_backlog", "Webhook deliveries waiting (bridge), per subscription state", ["subscription_state"]
)
PROVINCE_BACKLOG = Gauge("exchange_province_backlog", "Records waiting to be accepted by the provincial platform")
OUTBOX_SENT = Counter("exchange_outbox_sent_total", "Events relayed from the outbox to Kafka", ["schema"])
OUTBOX_ERRORS = Counter("exchange_outbox_errors_total", "Relay pauses caused by errors", ["schema"])
CONSUMED = Counter("exchange_consumed_total", "Events applied by a consumer", ["group", "topic"])
DUPLICATES = Counter("exchange_duplicates_total", "Redelivered events the inbox dropped", ["group", "topic"])
DEAD_LETTERS = Counter("exchange_dead_letters_total", "Events sent to a dead-letter topic", ["group", "topic"])
CONSUMER_LAG = Gauge("exchange_consumer_lag", "Messages behind the high watermark", ["group", "topic", "partition"])
CONSUMER_GROUP_LAG = Gauge(
    "exchange_consumer_group_lag",
    "Messages behind the high watermark, summed over this replica's partitions",
    ["group"],
)
CALENDAR_YEAR_MISSING = Gauge(
    "exchange_calendar_year_missing",
    "1 when the working-day calendar lacks the holiday schedule of a year it needs (the year is the label)",
    ["year"],
)
REJECTIONS = Counter(
    "exchange_ingest_rejections_total",
    "Rejected records by department, type and error code",
    ["department", "type", "code"],
)

http_log = logging.getLogger("exchange.http")
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})  # probes every few seconds: debug level

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RequestMetrics:
    """Pure ASGI middleware (no per-request task or body copy) counting requests by route template, giving
    each request its id (`X-Request-ID`, request_id.py) and writing the HTTP request log: method, route
    template, status, duration, request id and credential id, never a body, a query string or a path
    parameter (they may carry personal data such as an ID number)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        given = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        rid = request_id.accept(given)
        token = request_id.bind(rid)
        rid_header = (b"x-request-id", rid.encode())

        async def send_wrapper(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            REQUESTS.labels(self.service, path, scope["method"], str(status)).inc()
            LATENCY.labels(self.service, path).observe(elapsed)
            state = scope.get("state") or {}
            http_log.log(
                logging.DEBUG if path in QUIET_ROUTES else logging.INFO,
                "http request",
                extra={
                    "method": scope["method"],
                    "route": path,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "request_id": rid,
                    "credential": state.get("credential_id"),
                },
            )
            request_id.reset(token)


def render() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
