"""Per-client rate limits of publish's public JSON API (services/common/ratelimit.py, SECURITY.md).

This package's publish app runs with small limits (``READ_BURST`` reads, ``WRITE_BURST`` writes, refilled
at ``PER_MINUTE`` per minute) for addresses outside loopback; each test speaks from its own address
(``ASGITransport(client=...)``), so buckets never carry over from one test to the next.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError

from services.common.ratelimit import Limit, RateLimitMiddleware, TokenBuckets, parse_networks
from services.publish.app import PUBLIC_API_RULES, public_limits
from services.publish.settings import PublishSettings
from tests.security.conftest import PER_MINUTE, READ_BURST, WRITE_BURST

_addresses = (f"203.0.113.{n}" for n in itertools.count(1))  # TEST-NET-3: never a real client
OBJECTION = {
    "record_id": "AMR.NO-SUCH-RECORD",
    "subject_code": "91500101MA00000000",
    "reason": "不属实",
    "contact": "1",
}
READS = [
    "/v1/disclosures?q=某某",
    "/v1/disclosures/AMR.NO-SUCH-RECORD",
    "/v1/objections/OBJ-20261120-00000000?code=91500101MA00000000",
    "/v1/repairs/REP-20261120-00000000?code=91500101MA00000000",
]


@pytest.fixture
async def remote(publish: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """The package's publish app, seen from a fresh address outside loopback."""
    transport = httpx.ASGITransport(app=publish.app, client=(next(_addresses), 40000))  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url="http://publish") as client:
        yield client


def _assert_throttled(response: httpx.Response, limit_per_minute: float) -> None:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60 / limit_per_minute
    (error,) = response.json()["errors"]
    assert error["code"] == "rate_limited"
    assert error["path"] == ""
    assert "请求过于频繁" in error["message"]
    assert f"retry after {retry_after} s" in error["message"]


def _throttled_count(bucket: str) -> float:
    value = REGISTRY.get_sample_value("exchange_http_rate_limited_total", {"service": "publish", "bucket": bucket})
    return value or 0.0


async def test_reads_beyond_the_burst_are_refused_with_retry_after(remote: httpx.AsyncClient) -> None:
    before = _throttled_count("read")
    # The four public reads draw from one bucket per address.
    answers = [await remote.get(READS[i % len(READS)]) for i in range(READ_BURST)]
    assert [a.status_code for a in answers if a.status_code in (429, 500)] == []
    _assert_throttled(await remote.get(READS[0]), PER_MINUTE)
    for path in READS[1:]:
        assert (await remote.get(path)).status_code == 429
    assert _throttled_count("read") == before + len(READS)


async def test_writes_have_their_own_smaller_bucket(remote: httpx.AsyncClient) -> None:
    for _ in range(WRITE_BURST):
        response = await remote.post("/v1/objections", json=OBJECTION)
        assert response.status_code == 404, response.text  # reached the app: no such record
    _assert_throttled(await remote.post("/v1/objections", json=OBJECTION), PER_MINUTE)
    _assert_throttled(await remote.post("/v1/repairs", json={}), PER_MINUTE)  # same bucket, refused unread
    assert (await remote.get(READS[0])).status_code == 200  # reads are counted apart


async def test_a_throttled_address_does_not_throttle_others(
    remote: httpx.AsyncClient, publish: httpx.AsyncClient
) -> None:
    for _ in range(WRITE_BURST + 1):
        await remote.post("/v1/objections", json=OBJECTION)
    assert (await remote.post("/v1/objections", json=OBJECTION)).status_code == 429
    transport = httpx.ASGITransport(app=publish.app, client=(next(_addresses), 40000))  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url="http://publish") as neighbour:
        assert (await neighbour.post("/v1/objections", json=OBJECTION)).status_code == 404
    assert (await publish.post("/v1/objections", json=OBJECTION)).status_code == 404  # loopback: exempt


async def test_department_views_and_the_portal_are_not_counted(
    remote: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    """Tokens identify departments, the county and auditors; the portal form has its own per-address limit."""
    headers = {"Authorization": f"Bearer {tokens['TOKEN_AMR']}"}
    for _ in range(READ_BURST + 3):
        assert (await remote.get("/v1/deadlines", headers=headers)).status_code == 200
        assert (await remote.get("/")).status_code == 200
    assert (await remote.get(READS[0])).status_code == 200  # the read bucket is still full


async def test_behind_a_proxy_the_forwarded_client_address_is_limited(urls: dict[str, str]) -> None:
    """Served by uvicorn as deployed: a trusted proxy (loopback, the default FORWARDED_ALLOW_IPS) forwards
    the client's address in X-Forwarded-For, and each forwarded client has its own bucket."""
    client_a, client_b = next(_addresses), next(_addresses)
    async with httpx.AsyncClient(base_url=urls["publish"], timeout=10) as proxy:
        for _ in range(READ_BURST):
            response = await proxy.get(READS[0], headers={"X-Forwarded-For": client_a})
            assert response.status_code == 200, response.text
        _assert_throttled(await proxy.get(READS[0], headers={"X-Forwarded-For": client_a}), PER_MINUTE)
        assert (await proxy.get(READS[0], headers={"X-Forwarded-For": client_b})).status_code == 200
        assert (await proxy.get(READS[0])).status_code == 200  # the proxy itself (loopback): exempt


# -- the token bucket and the defaults, without the app -------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(Limit(per_minute=6, burst=3), clock=clock)  # a token every 10 s
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(10.0)
    clock.now += 4
    assert buckets.take("a") == pytest.approx(6.0)  # refused requests do not cost a token
    clock.now += 6
    assert buckets.take("a") == 0.0
    clock.now += 3600  # a long pause refills to the burst, no further
    assert [buckets.take("a") for _ in range(4)][-1] > 0
    assert buckets.take("b") == 0.0  # every client has its own bucket


def test_buckets_are_bounded_forgetting_the_least_recently_seen() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(Limit(per_minute=1, burst=1), max_clients=3, clock=clock)
    for client in ("a", "b", "c"):
        assert buckets.take(client) == 0.0
    assert buckets.take("a") > 0  # "a" is now the most recently seen
    assert buckets.take("d") == 0.0
    assert len(buckets) == 3
    assert buckets.take("a") > 0  # remembered
    assert buckets.take("b") == 0.0  # forgotten: a full bucket again


async def _call(app: Any, method: str, path: str, client: str) -> int:
    """One request through a bare ASGI app; the status it answered."""
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": [], "client": (client, 1)}
    await app(scope, receive, send)
    return int(sent[0]["status"])


async def _ok(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def test_default_limits_let_people_browse_and_stop_a_flood_of_objections() -> None:
    settings = PublishSettings()
    limited = RateLimitMiddleware(
        _ok,
        service="publish",
        rules=PUBLIC_API_RULES,
        limits=public_limits(settings),
        exempt=parse_networks(settings.rate_limit_exempt),
    )
    browsing = [await _call(limited, "GET", "/v1/disclosures", "198.51.100.1") for _ in range(250)]
    assert set(browsing) == {200}  # an office behind one address searching at once
    filing = [await _call(limited, "POST", "/v1/objections", "198.51.100.2") for _ in range(11)]
    assert filing == [200] * 10 + [429]
    local = [await _call(limited, "POST", "/v1/objections", "127.0.0.1") for _ in range(50)]
    assert set(local) == {200}  # loopback (benchmarks, the local stack) is exempt by default
    assert await _call(limited, "GET", "/v1/deadlines", "198.51.100.2") == 200  # not a public route


def test_the_limits_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLISH_PUBLIC_WRITE_BURST", "3")
    monkeypatch.setenv("PUBLISH_PUBLIC_READ_PER_MINUTE", "600")
    monkeypatch.setenv("PUBLISH_RATE_LIMIT_EXEMPT", "10.0.0.0/8, ::1")
    settings = PublishSettings()
    assert public_limits(settings) == {"read": Limit(600, 300), "write": Limit(10, 3)}
    assert [str(n) for n in parse_networks(settings.rate_limit_exempt)] == ["10.0.0.0/8", "::1/128"]


def test_a_mistyped_exempt_network_stops_the_service_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLISH_RATE_LIMIT_EXEMPT", "127.0.0.0/8,10.0.0.0/33")
    with pytest.raises(ValidationError, match=r"'10\.0\.0\.0/33' is not an IP address or network"):
        PublishSettings()
