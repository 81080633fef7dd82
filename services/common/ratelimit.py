"""Per-client rate limits for public endpoints: a token bucket per client address, as pure ASGI middleware.

Why: the public API of publish (search, a published record, objections, repairs) needs no token, so the
only handle on a scraper or a flood of objections is the address it comes from. Why in memory: the limit
protects one replica's CPU and database pool; a shared store (Redis …) would add a moving part every
public request waits on. Consequences, documented in SECURITY.md:

- Limits are **per replica**: behind a load balancer over N replicas a client may get up to N times the
  configured rate. Size the settings for one replica.
- The client address is ``scope["client"]``. uvicorn rewrites it from ``X-Forwarded-For`` only when the
  connection comes from a trusted proxy (``FORWARDED_ALLOW_IPS``, default ``127.0.0.1,::1``). A reverse
  proxy on another host must be listed there, and must set ``X-Forwarded-For``; otherwise every client
  looks like the proxy and shares one bucket.
- Exempt networks (default: loopback) are never limited: the local stack, the benchmarks and health
  probes talk over loopback, and a proxy on the same host that does *not* forward the client address
  gives no way to tell clients apart, so limiting it would throttle everybody at once.

A refused request gets 429, ``Retry-After`` (whole seconds) and the API.md error body, and never reaches
the application (no database work is spent on it).
"""

from __future__ import annotations

import ipaddress
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from prometheus_client import Counter

from services.common.errors import ApiError, problem_body
from services.common.metrics import ASGIApp, Receive, Scope, Send

RATE_LIMITED = Counter(
    "exchange_http_rate_limited_total", "Requests refused by a per-client rate limit", ["service", "bucket"]
)
MAX_CLIENTS = 100_000
"""Buckets kept per limit; beyond it the least recently seen clients are forgotten (memory stays bounded)."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Limit:
    """``burst`` requests at once, refilled at ``per_minute`` per minute (a token bucket)."""

    per_minute: float
    burst: int

    def __post_init__(self) -> None:
        if self.per_minute <= 0 or self.burst < 1:
            raise ValueError(f"a rate limit needs per_minute > 0 and burst >= 1, got {self}")


class TokenBuckets:
    """One token bucket per client key. ``take`` is O(1); at most ``max_clients`` buckets are kept."""

    def __init__(
        self, limit: Limit, *, max_clients: int = MAX_CLIENTS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self._rate = limit.per_minute / 60.0  # tokens per second
        self._max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key → (tokens, as of)

    def take(self, key: str) -> float:
        """0.0 when the request may go ahead (a token was taken); else the seconds until one is available."""
        now = self._clock()
        tokens, since = self._buckets.pop(key, (float(self.limit.burst), now))
        tokens = min(float(self.limit.burst), tokens + (now - since) * self._rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self._rate
        self._buckets[key] = (tokens, now)  # re-inserted last: the front holds the least recently seen
        while len(self._buckets) > self._max_clients:
            # Forgetting a client gives it a full bucket again; only an attacker with more than
            # max_clients addresses can make use of that, and it could not be stopped per address anyway.
            self._buckets.popitem(last=False)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)


@dataclass(frozen=True, slots=True)
class Rule:
    """Requests with ``method`` whose path matches ``path`` draw from the bucket named ``bucket``."""

    method: str
    path: re.Pattern[str]
    bucket: str


def rule(method: str, template: str, bucket: str) -> Rule:
    """A rule for a route template: ``{name}`` matches one path segment (``/v1/objections/{id}``)."""
    pattern = "".join(
        "[^/]+" if part.startswith("{") else re.escape(part) for part in re.split(r"(\{[^}]+\})", template) if part
    )
    return Rule(method.upper(), re.compile(f"^{pattern}$"), bucket)


def parse_networks(text: str | Iterable[str]) -> tuple[Network, ...]:
    """``"127.0.0.0/8,::1"`` → networks; raises ValueError naming the entry that is not a network."""
    items = text.split(",") if isinstance(text, str) else list(text)
    networks = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network (e.g. 127.0.0.0/8, ::1, 10.1.2.3)") from None
    return tuple(networks)


class RateLimitMiddleware:
    """429 for a client over its limit on the routes given by ``rules``; everything else passes untouched."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        rules: Sequence[Rule],
        limits: Mapping[str, Limit],
        exempt: Iterable[Network] = (),
    ) -> None:
        unknown = {r.bucket for r in rules} - limits.keys()
        if unknown:
            raise ValueError(f"rate-limit rules name buckets without a limit: {sorted(unknown)}")
        self.app = app
        self.service = service
        self.rules = tuple(rules)
        self.buckets = {name: TokenBuckets(limit) for name, limit in limits.items()}
        self.exempt = tuple(exempt)
        self._exempt_cache: dict[str, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        matched = next((r for r in self.rules if r.method == method and r.path.match(path)), None)
        client = scope.get("client")
        host = str(client[0]) if client else ""
        if matched is None or self._is_exempt(host):
            await self.app(scope, receive, send)
            return
        buckets = self.buckets[matched.bucket]
        wait = buckets.take(host)
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        RATE_LIMITED.labels(self.service, matched.bucket).inc()
        await _too_many(send, math.ceil(wait), buckets.limit)

    def _is_exempt(self, host: str) -> bool:
        known = self._exempt_cache.get(host)
        if known is None:
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                known = False  # not an IP (a unix socket, a test client): limited under its own name
            else:
                known = any(address in network for network in self.exempt)
            if len(self._exempt_cache) > MAX_CLIENTS:
                self._exempt_cache.clear()
            self._exempt_cache[host] = known
        return known


async def _too_many(send: Send, retry_after: int, limit: Limit) -> None:
    message = (
        f"请求过于频繁，请 {retry_after} 秒后重试 (too many requests from your address: at most "
        f"{limit.per_minute:g} per minute, {limit.burst} at once; retry after {retry_after} s)"
    )
    body = orjson.dumps(problem_body(429, [ApiError("", "rate_limited", message)]))
    start: MutableMapping[str, Any] = {
        "type": "http.response.start",
        "status": 429,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry_after).encode()),
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})
