"""S6 credit reports (issue 16): report issue per second and its p99, HTML only and HTML + PDF, and batch
checks in codes per second, against the reports service process of the bench stack.

Set-up: the reports consumer group is moved past the earlier scenarios' records (they would only delay
it), then 1,000 subjects are reported through ingest (a penalty each, every tenth also on the 经营异常名录)
and the scenario waits until the reports service has consumed them. Then, per repetition:

- throughput: a closed loop of `CONNECTIONS` clients issuing department reports (`POST /v1/reports`) for
  random subjects for the measurement window; reports/s = answered 201s / window;
- latency: one client issuing one report at a time (p50 / p99 of that run: the time one clerk waits,
  without queueing behind other requests — the closed loop's latency is in the JSON too);
- batch checks: `CONNECTIONS` clients posting `POST /v1/checks:batch` with 1,000 codes each; codes/s.

The load generator is httpx in this process (one core of its own on a 2-core machine is not free: the
`others` figure of the other scenarios applies here too).
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx

from bench.cpu import group_seconds
from bench.runner import Bench, Row
from bench.stats import percentiles
from deploy.local_kafka import run_coroutine_in_thread
from deploy.processes import wait_until
from tests import factories

SUBJECTS = 1000
CONNECTIONS = {"html": 4, "pdf": 2, "check": 2}
TARGETS = {"html_p99": 100.0, "pdf_p99": 1000.0, "check": 5000.0}


def _ensure_reports(bench: Bench) -> None:
    if "reports" in bench.stack.running:
        return
    from bench.kafkatools import fast_forward
    from services.common.consumer_service import record_topics
    from services.common.settings import CommonSettings
    from services.reports.handlers import OUTCOME_TOPICS

    settings = CommonSettings(topic_prefix=bench.stack.config.topic_prefix)
    topics = [*record_topics(settings), *(settings.topic(t) for t in OUTCOME_TOPICS)]
    run_coroutine_in_thread(fast_forward(bench.stack.bootstrap, settings.topic("reports"), topics))
    bench.stack.start_services("reports")


async def _seed(bench: Bench) -> list[str]:
    codes = [factories.uscc() for _ in range(SUBJECTS)]
    records: list[dict[str, Any]] = []
    for n, code in enumerate(codes):
        records.append(
            factories.penalty(code=code, name=f"重庆压测{n:04d}商贸有限公司", fine=5.0, decision_date="2026-10-02")
        )
        if n % 10 == 0:
            listing = factories.fresh(factories.examples("abnormal_operation_listing")[0])
            listing["subject"] = {"kind": "legal_person", "code": code, "name": f"重庆压测{n:04d}商贸有限公司"}
            records.append(listing)
    url = f"http://127.0.0.1:{bench.stack.port('ingest')}"
    headers = {"Authorization": f"Bearer {bench.stack.tokens['TOKEN_AMR']}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as client:
        for i in range(0, len(records), 500):
            response = await client.post("/v1/records:batch", json={"records": records[i : i + 500]})
            response.raise_for_status()
    return codes


def _consumed(bench: Bench, codes: list[str]) -> bool:
    listed = ",".join(f"'{c}'" for c in codes)
    count = bench.stack.superuser_sql(
        f"SELECT count(DISTINCT subject_code) FROM reports.records WHERE subject_code IN ({listed})",
        database="exchange",
    )
    return int(count or 0) >= len(codes)


async def _closed_loop(
    url: str, token: str, seconds: float, connections: int, body: Any, path: str = "/v1/reports"
) -> tuple[int, float, list[float]]:
    """(answered 201s, elapsed seconds, latencies in ms) of `connections` clients for `seconds`."""
    latencies: list[float] = []
    done = 0
    failures: list[str] = []
    transport_errors: list[str] = []
    end = time.monotonic() + seconds

    async def client() -> None:
        nonlocal done
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
            while time.monotonic() < end:
                started = time.perf_counter()
                try:
                    response = await c.post(path, json=body())
                except httpx.TransportError as error:
                    # a connection the service dropped is a failed request to count and show, not the end of
                    # the scenario (a full run once lost S6 to one ReadError)
                    transport_errors.append(type(error).__name__)
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code == 201:
                    done += 1
                elif len(failures) < 3:
                    failures.append(f"{response.status_code} {response.text[:200]}")

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(connections)))
    if failures:
        print(f"    unexpected answers: {failures}", flush=True)
    if transport_errors:
        print(f"    connections dropped by the service: {len(transport_errors)} ({transport_errors[0]})", flush=True)
    return done, time.monotonic() - started, latencies


def s5(bench: Bench) -> None:
    _ensure_reports(bench)
    codes = asyncio.run(_seed(bench))
    wait_until(lambda: _consumed(bench, codes), timeout=300, what="the reports service to consume the subjects")
    url = f"http://127.0.0.1:{bench.stack.port('reports')}"
    token = bench.stack.tokens["TOKEN_HOUSING"]
    config = bench.config
    pid = bench.stack.service_pid("reports")

    def measured(
        seconds: float, connections: int, body: Any, path: str = "/v1/reports"
    ) -> tuple[int, float, list[float], float]:
        """`_closed_loop` plus the reports process's CPU seconds per answered request (load-independent)."""
        before = group_seconds(pid)
        done, elapsed, lat = asyncio.run(_closed_loop(url, token, seconds, connections, body, path))
        return done, elapsed, lat, (group_seconds(pid) - before) / max(done, 1)

    def report(formats: list[str]) -> Any:
        return lambda: {"code": random.choice(codes), "matter": "public_tender", "formats": formats}

    for label, formats in (("HTML", ["html"]), ("HTML + PDF", ["html", "pdf"])):
        key = "html" if formats == ["html"] else "pdf"
        asyncio.run(_closed_loop(url, token, config.warmup_seconds, CONNECTIONS[key], report(formats)))
        rates, loaded, cpu = [], [], []
        for _ in range(config.repetitions):
            done, elapsed, lat, per = measured(config.seconds, CONNECTIONS[key], report(formats))
            rates.append(done / elapsed)
            loaded.append(percentiles(sorted(lat)))
            cpu.append(per * 1000)
        single: list[float] = []
        p99s = []
        for _ in range(config.repetitions):
            _, _, lat = asyncio.run(_closed_loop(url, token, config.seconds, 1, report(formats)))
            single += lat
            p99s.append(percentiles(sorted(lat))["p99"])
        one = percentiles(sorted(single))
        target = TARGETS[f"{key}_p99"]
        bench.add(
            Row(
                f"S6 report issue ({label}), maximum",
                "reports/s",
                rates,
                latency={k: _median([p[k] for p in loaded]) for k in ("p50", "p99")},
                note=f"{CONNECTIONS[key]} connections, POST /v1/reports (department report, 1 of {SUBJECTS} subjects); "
                f"reports process CPU {_median(cpu):,.1f} ms per report",
            )
        )
        bench.add(
            Row(
                f"S6 report issue ({label}), one at a time",
                "p99 ms",
                p99s,
                latency={"p50": one["p50"], "p99": one["p99"]},
                target=f"p99 <= {target:.0f} ms",
                met=one["p99"] <= target,
                note="one client, no queueing",
            )
        )

    def check() -> Any:
        return {"matter": "public_tender", "codes": random.sample(codes, len(codes)), "purpose": "bench"}

    asyncio.run(_closed_loop(url, token, config.warmup_seconds, CONNECTIONS["check"], check, "/v1/checks:batch"))
    rates, lats, cpu = [], [], []
    for _ in range(config.repetitions):
        done, elapsed, lat, per = measured(config.seconds, CONNECTIONS["check"], check, "/v1/checks:batch")
        rates.append(done * SUBJECTS / elapsed)
        lats.append(percentiles(sorted(lat)))
        cpu.append(per * 1000)
    best = bench.add(
        Row(
            "S6 batch check, 1,000 codes per request",
            "codes/s",
            rates,
            latency={k: _median([p[k] for p in lats]) for k in ("p50", "p99")},
            target=f">= {TARGETS['check']:,.0f} codes/s",
            note=f"{CONNECTIONS['check']} connections, POST /v1/checks:batch (access log: 1,000 audit events each); "
            f"reports process CPU {_median(cpu):,.0f} ms per 1,000 codes",
        )
    )
    best.met = best.median >= TARGETS["check"]


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else float("nan")
