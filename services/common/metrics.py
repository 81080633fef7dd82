"""Prometheus metrics every service exposes at /metrics."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess

from services.common import request_id

REQUESTS = Counter("exchange_http_requests_total", "HTTP requests", ["service", "route", "method", "status"])
LATENCY = Histogram(
    "exchange_http_request_seconds",
    "HTTP request latency",
    ["service", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
# Gauges say how to combine the processes of one service in Prometheus' multiprocess mode (a service run
# with several worker processes, e.g. INGEST_WORKERS): a sampled state such as a backlog is the same table
# seen by every process, so the most recent sample of a live process is the truth; an alert flag is raised
# if any live process raises it. Outside multiprocess mode the mode is ignored.
OUTBOX_BACKLOG = Gauge(
    "exchange_outbox_backlog", "Rows waiting in the outbox", ["schema"], multiprocess_mode="livemostrecent"
)
WEBHOOK_BACKLOG = Gauge(
    "exchange_webhook_backlog",
    "Webhook deliveries waiting (bridge), per subscription state",
    ["subscription_state"],
    multiprocess_mode="livemostrecent",
)
PROVINCE_BACKLOG = Gauge(
    "exchange_province_backlog",
    "Records waiting to be accepted by the provincial platform",
    multiprocess_mode="livemostrecent",
)
OUTBOX_SENT = Counter("exchange_outbox_sent_total", "Events relayed from the outbox to Kafka", ["schema"])
OUTBOX_ERRORS = Counter("exchange_outbox_errors_total", "Relay pauses caused by errors", ["schema"])
CONSUMED = Counter("exchange_consumed_total", "Events applied by a consumer", ["group", "topic"])
DUPLICATES = Counter("exchange_duplicates_total", "Redelivered events the inbox dropped", ["group", "topic"])
DEAD_LETTERS = Counter("exchange_dead_letters_total", "Events sent to a dead-letter topic", ["group", "topic"])
CONSUMER_LAG = Gauge(
    "exchange_consumer_lag",
    "Messages behind the high watermark",
    ["group", "topic", "partition"],
    multiprocess_mode="livemostrecent",
)
CONSUMER_GROUP_LAG = Gauge(
    "exchange_consumer_group_lag",
    "Messages behind the high watermark, summed over this replica's partitions",
    ["group"],
    multiprocess_mode="livesum",  # each process owns its own partitions
)
CALENDAR_YEAR_MISSING = Gauge(
    "exchange_calendar_year_missing",
    "1 when the working-day calendar lacks the holiday schedule of a year it needs (the year is the label)",
    ["year"],
    multiprocess_mode="livemax",
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
    parameter (they may carry personal data such as an ID number). A front that answers some paths
    before the middleware stack (ingest's two POSTs) does the same through `request_id_of` and
    `record_request`."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        rid = request_id_of(scope)
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
            record_request(self.service, scope, getattr(route, "path", "unmatched"), status, started, rid)
            request_id.reset(token)


def request_id_of(scope: Scope) -> str:
    """The request's id: the caller's `X-Request-ID` when it is a plain token, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            return request_id.accept(value.decode("latin-1"))
    return request_id.accept(None)


# (service, route, method, status) -> the counter and histogram children: `labels()` takes a lock and builds
# the key on every call; the set of keys is the same as the metrics' own (route templates, not paths).
_children: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}


def record_request(service: str, scope: Scope, route: str, status: int, started: float, rid: str) -> None:
    """Count the request, observe its latency and write its line of the HTTP request log."""
    elapsed = time.perf_counter() - started
    method = scope["method"]
    key = (service, route, method, status)
    children = _children.get(key)
    if children is None:
        children = _children[key] = (
            REQUESTS.labels(service, route, method, str(status)),
            LATENCY.labels(service, route),
        )
    children[0].inc()
    children[1].observe(elapsed)
    level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
    if not http_log.isEnabledFor(level):
        return
    state = scope.get("state") or {}
    extra = {
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": round(elapsed * 1000, 2),
        "request_id": rid,
        "credential": state.get("credential_id"),
    }
    # makeRecord + handle is what Logger.log does, less the walk of the stack for the caller's file and line
    # (findCaller), which the JSON log lines never show.
    http_log.handle(http_log.makeRecord(http_log.name, level, "", 0, "http request", (), None, extra=extra))


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> Path | None:
    """The folder the worker processes of this service share their metrics through, if several run."""
    folder = os.environ.get(MULTIPROC_ENV)
    return Path(folder) if folder else None


def prepare_multiprocess(service: str) -> Path:
    """Before a service starts several worker processes: the folder they share metrics through, empty.

    prometheus_client reads PROMETHEUS_MULTIPROC_DIR when it is imported, so this runs in the parent and the
    (spawned) workers inherit it. An operator's folder is emptied (files of an earlier run would be added
    to this one's counters); without one, a private temporary folder is made, removed at exit by
    `remove_multiprocess_dir`."""
    given = multiprocess_dir()
    if given is None:
        folder = Path(tempfile.mkdtemp(prefix=f"exchange-{service}-metrics-"))
    else:
        folder = given
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink(missing_ok=True)
    os.environ[MULTIPROC_ENV] = str(folder)
    return folder


def remove_multiprocess_dir(folder: Path, *, made_here: bool) -> None:
    if made_here:
        shutil.rmtree(folder, ignore_errors=True)


def worker_started() -> None:
    """A worker process starts: drop the `live*` gauges of workers that died without saying so (a crash;
    uvicorn's supervisor replaced them), so that a dead worker's last sample never shows."""
    folder = multiprocess_dir()
    if folder is None:
        return
    for path in folder.glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        if pid != os.getpid() and not _alive(pid):
            prometheus_multiprocess.mark_process_dead(pid, str(folder))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def worker_stopped() -> None:
    """A worker process ends: its `live*` gauges leave the sums (counters and histograms stay: they count)."""
    if multiprocess_dir() is not None:
        prometheus_multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def render() -> tuple[bytes, str]:
    """The exposition: in multiprocess mode the sum over every worker's files (counters and histograms
    add up, gauges as their `multiprocess_mode` says); otherwise this process's registry."""
    if multiprocess_dir() is not None:
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
