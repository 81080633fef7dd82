"""The scenarios of issue 9 and the baselines that bound them, each adding rows to the table.

S1  ingest, single-record POSTs (5 % invalid, 10 % duplicate retries): maximum, then p99 at 70 % of it
S1b ingest, records:batch of 500
S2  full pipeline (ingest + grading + sanctions + publish consuming, public queries at 10 % of the POSTs)
S3  replay: a fresh grading consumer group catching up from offset 0 into a scratch database
S4  public queries alone (GET /v1/disclosures?q=), with publish's public read cache off, then on
S4b portal HTML pages, the cache off, then on
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from bench.records import subject_name
from bench.runner import Bench, Row, cpu_per_record, find_max, median_cpu, open_latency, others_cores
from bench.stats import spread
from bench.worker import run_worker
from deploy.processes import free_port, wait_until

TARGETS = {  # issue 19 for S1, S1b, S4, S4b; issue 18 for S2, S3, S3b, S8 and memory (they replace issue 9's)
    "S1": 4000.0,
    "S1_ratio": 0.35,
    "S1_p99": 25.0,
    "S1b": 10000.0,
    "S2": 1000.0,  # records/s through every consumer, lag bounded
    "S2_p99": 1000.0,  # ms, 202 -> visible in all three consumers
    "S2_cpu": 700.0,  # µs of CPU of the four services per record
    "S3": 6000.0,  # grading consumer from offset 0, outbox relay running
    "S3_ratio": 0.2,  # issue 9: x the bare getmany loop
    "S3b": 2000.0,  # events/s, `exchange audit replay` of all three services
    "S8": 1.5,  # cost per event of a subject with 300 records / of a new subject
    "memory_mb": 300.0,  # resident memory of each service during S2 and S8
    "memory_growth": 1.1,  # end / after warm-up
    "S4": 3000.0,
    "S4_p99": 20.0,
    "S4b": 1500.0,
    "S4_cached": 6000.0,  # issue 19: "with a cache"
    "S1_cpu": 300.0,
}


def _med(runs: list[dict[str, object]], key: str) -> float:
    return spread([float(r[key]) for r in runs])["median"]  # type: ignore[arg-type]


def _latency(runs: list[dict[str, object]]) -> dict[str, float]:
    out = {}
    for q in ("p50", "p99"):
        out[q] = spread([float(r["latency_ms"].get(q, float("nan"))) for r in runs])["median"]  # type: ignore[attr-defined]
    return out


def _unexpected(runs: list[dict[str, object]]) -> str:
    bad: dict[str, int] = {}
    for r in runs:
        for key, n in r["unexpected"].items():  # type: ignore[attr-defined]
            bad[key] = bad.get(key, 0) + n
    return "unexpected answers: " + ", ".join(f"{k} x{n}" for k, n in sorted(bad.items())) if bad else ""


# -- baselines ---------------------------------------------------------------------------------------------


def http_baseline(bench: Bench) -> None:
    """Bare FastAPI (reads the body, answers 202) under the same uvicorn settings as the services."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.baselines", "http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/v1/disclosures"), timeout=30, what="bare FastAPI app")
        pids = {"bare": [proc.pid], **bench.stack.infra_pids()}
        for name, workload in (("single", "single"), ("get", "query")):
            extra: dict[str, Any] = {"terms": _terms(bench, 200)} if workload == "query" else {}
            found = find_max(
                bench,
                f"baseline/http-{name}",
                services=("bare",),
                levels=bench.config.connections,
                pids=pids,
                port=port,
                workload=workload,
                bare=True,
                **extra,
            )
            runs = found["runs"]
            row = bench.add(
                Row(
                    f"baseline: bare FastAPI {'POST /v1/records' if name == 'single' else 'GET /v1/disclosures'}",
                    "requests/s",
                    [r["requests_per_s"] for r in runs],
                    latency=_latency(runs),
                    cpu_us=median_cpu([r["cpu_us"] for r in runs]),
                    others=others_cores(runs),
                    note=f"{found['connections']} connections",
                )
            )
            bench.ceilings[f"http-{name}"] = row.median
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback URL we built)
            return bool(response.status < 500)
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def kafka_baseline(bench: Bench) -> None:
    c = bench.config
    spec = {
        "kind": "kafka-produce",
        "bootstrap": bench.stack.bootstrap,
        "topic": f"{bench.stack.config.topic_prefix}bench.scratch",
        "messages": 20_000,
        "seconds": c.seconds,
        "repetitions": c.repetitions,
        "seed": bench.seed(),
        "tag": bench.tag("k"),
        "cpu": bench.stack.infra_pids(),
    }
    result = run_worker(spec, timeout=60 + 3 * c.seconds * (c.repetitions + 1))
    runs = result["runs"]
    row = bench.add(
        Row(
            "baseline: bare aiokafka producer (service settings)",
            "messages/s",
            [r["per_s"] for r in runs],
            cpu_us=median_cpu([cpu_per_record(r["cpu_s"], r["count"], ()) for r in runs]),
            others=others_cores(runs),
            note="make_producer(): idempotent, acks=all, lz4, linger 5 ms; relay-sized batches of 1000",
        )
    )
    bench.ceilings["kafka-produce"] = row.median
    bench.raw["baseline/kafka"] = runs


def db_baseline(bench: Bench) -> None:
    c = bench.config
    spec = {
        "kind": "db-insert",
        "dsn": bench.stack.dsn,
        "messages": 20_000,
        "seconds": c.seconds,
        "repetitions": c.repetitions,
        "connections": 10,
        "batch": 500,
        "seed": bench.seed(),
        "tag": bench.tag("d"),
        "cpu": bench.stack.infra_pids(),
    }
    result = run_worker(spec, timeout=120 + 6 * c.seconds * (c.repetitions + 1))
    for mode, label, note in (
        ("per_row", "one transaction per record", "10 connections"),
        ("batched", "500 records per transaction", "1 connection, executemany"),
    ):
        runs = result[mode]
        row = bench.add(
            Row(
                f"baseline: asyncpg insert record + outbox row, {label}",
                "records/s",
                [r["per_s"] for r in runs],
                cpu_us=median_cpu([cpu_per_record(r["cpu_s"], r["count"], ()) for r in runs]),
                others=others_cores(runs),
                note=note,
            )
        )
        bench.ceilings[f"db-{mode}"] = row.median
    bench.raw["baseline/db"] = result


# -- S1, S1b, S4 --------------------------------------------------------------------------------------------


def s1(bench: Bench) -> None:
    port = bench.stack.port("ingest")
    found = find_max(bench, "S1", services=("ingest",), levels=bench.config.connections, port=port, workload="single")
    runs = found["runs"]
    cpu = median_cpu([r["cpu_us"] for r in runs])
    best = bench.add(
        Row(
            "S1 ingest: single-record POST, maximum (closed loop)",
            "records/s",
            [r["records_per_s"] for r in runs],
            latency=_latency(runs),
            baseline="bare FastAPI POST",
            baseline_value=bench.ceilings.get("http-single"),
            cpu_us=cpu,
            others=others_cores(runs),
            target=f">= {TARGETS['S1']:,.0f}/s and >= {TARGETS['S1_ratio']} x bare; CPU <= {TARGETS['S1_cpu']:.0f} µs",
            note=f"{found['connections']} connections; " + _unexpected(runs),
        )
    )
    ratio = best.ratio
    best.met = (
        best.median >= TARGETS["S1"]
        and (ratio is None or ratio >= TARGETS["S1_ratio"])
        and cpu.get("service", 1e9) <= TARGETS["S1_cpu"]
    )
    bench.ceilings["S1"] = best.median
    if bench.config.profile:
        from bench.profile import profile_ingest

        profile_ingest(bench, port=port, connections=found["connections"])
    rate = bench.config.open_loop_fraction * best.median
    runs = open_latency(bench, "S1", rate=rate, services=("ingest",), port=port, workload="single")
    lat = _latency(runs)
    bench.add(
        Row(
            f"S1 ingest: p99 at {bench.config.open_loop_fraction:.0%} of maximum (open loop, {rate:,.0f}/s)",
            "p99 ms",
            [r["latency_ms"].get("p99", float("nan")) for r in runs],
            latency=lat,
            cpu_us=median_cpu([r["cpu_us"] for r in runs]),
            others=others_cores(runs),
            target=f"p99 <= {TARGETS['S1_p99']:.0f} ms",
            met=lat["p99"] <= TARGETS["S1_p99"],
            note=f"achieved {_med(runs, 'records_per_s'):,.0f} records/s; " + _unexpected(runs),
        )
    )


def s1b(bench: Bench) -> None:
    port = bench.stack.port("ingest")
    found = find_max(
        bench, "S1b", services=("ingest",), levels=(2, 8), records_per_job=500, port=port, workload="batch", batch=500
    )
    runs = found["runs"]
    row = bench.add(
        Row(
            "S1b ingest: records:batch of 500, maximum",
            "records/s",
            [r["records_per_s"] for r in runs],
            latency=_latency(runs),
            baseline="asyncpg batched insert",
            baseline_value=bench.ceilings.get("db-batched"),
            cpu_us=median_cpu([r["cpu_us"] for r in runs]),
            others=others_cores(runs),
            target=f">= {TARGETS['S1b']:,.0f}/s",
            note=f"{found['connections']} connections; latency is per batch; " + _unexpected(runs),
        )
    )
    row.met = row.median >= TARGETS["S1b"]


def _published(bench: Bench, n: int) -> list[tuple[str, str, str]]:
    """(subject code, subject name, public id) of up to `n` published disclosures, at random."""
    try:
        out = bench.stack.superuser_sql(
            "SELECT subject_code, subject_name, public_id FROM publish.disclosures WHERE state = 'published' "
            f"ORDER BY random() LIMIT {n}",
            database="exchange",
        )
    except RuntimeError:
        return []
    return [(c, name, p) for c, name, p in (line.split("|", 2) for line in out.splitlines() if line.count("|") >= 2)]


TERM_MIX = (("code", 0.4), ("prefix", 0.25), ("fragment", 0.2), ("miss", 0.15))
"""S4's query terms (issue 19): codes that exist, the start of a published name, a piece from inside one,
and terms that find nothing (unknown codes and made-up names)."""


def _terms(bench: Bench, n: int) -> list[str]:
    """Query terms in the proportions of TERM_MIX, drawn from what publish actually shows; before anything is
    published, codes of accepted records and made-up names (as issue 9's S4 did)."""
    rng = random.Random(n)
    kinds = ("legal_person", "individual_business", "natural_person")
    shown = _published(bench, n)
    if not shown:
        codes: list[str] = []
        try:
            out = bench.stack.superuser_sql(
                f"SELECT subject_code FROM ingest.records ORDER BY random() LIMIT {n // 2}", database="exchange"
            )
            codes = [line for line in out.splitlines() if line]
        except RuntimeError:
            pass
        return codes + [subject_name(rng.choice(kinds), rng) for _ in range(n - len(codes))]
    terms: list[str] = []
    for kind, share in TERM_MIX:
        for _ in range(round(n * share)):
            code, name, _ = rng.choice(shown)
            if kind == "code":
                terms.append(code)
            elif kind == "prefix":
                terms.append(name[: rng.randint(2, min(4, len(name)))])
            elif kind == "fragment" and len(name) > 3:
                start = rng.randint(1, len(name) - 2)
                terms.append(name[start : start + rng.randint(2, 3)])
            else:
                terms.append(subject_name(rng.choice(kinds), rng) + "无此主体")
    rng.shuffle(terms)
    return terms


def _pages(bench: Bench, n: int) -> list[str]:
    """S4b's portal pages: the home page with a search, a subject's page, a record's page (a third each)."""
    rng = random.Random(n)
    shown = _published(bench, n) or [("", "重庆", "")]
    paths: list[str] = []
    for i in range(n):
        code, name, public_id = rng.choice(shown)
        if i % 3 == 0 or not code:
            paths.append(f"/?q={quote(name[:2])}")
        elif i % 3 == 1:
            paths.append(f"/subjects/{quote(code)}")
        else:
            paths.append(f"/records/{quote(public_id)}")
    return paths


def disclosures_available(bench: Bench) -> str | None:
    """None when publish answers GET /v1/disclosures; otherwise why not."""
    if "publish" not in bench.stack.running:
        return "publish is not running"
    url = f"http://127.0.0.1:{bench.stack.port('publish')}/v1/disclosures?q=%E9%87%8D%E5%BA%86"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return None if response.status == 200 else f"GET /v1/disclosures answered {response.status}"
    except urllib.error.HTTPError as exc:
        body = exc.read()[:200].decode(errors="replace")
        return f"GET /v1/disclosures answered {exc.code} {body}".strip()
    except OSError as exc:
        return f"GET /v1/disclosures failed: {exc}"


def ensure_publish(bench: Bench, *, cached: bool) -> None:
    """Publish running with its public read cache on or off (``PUBLISH_PUBLIC_CACHE``; restarted when it
    runs the other way). S4 run alone: its group moved past the earlier scenarios' records first."""
    setting = {"PUBLISH_PUBLIC_CACHE": "1" if cached else "0"}
    if "publish" in bench.stack.running:
        if bench.stack.settings.get("publish") == setting:
            return
        bench.stack.stop_services("publish")
    elif "publish" not in bench.stack.settings:  # never started in this run
        from bench.kafkatools import fast_forward
        from deploy.local_kafka import run_coroutine_in_thread
        from services.common.consumer_service import record_topics
        from services.common.settings import CommonSettings

        prefix = bench.stack.config.topic_prefix
        topics = record_topics(CommonSettings(topic_prefix=prefix))
        run_coroutine_in_thread(fast_forward(bench.stack.bootstrap, f"{prefix}publish", topics))
    bench.stack.start_services("publish", env=setting)


def _cache_label(cached: bool) -> str:
    return "cache on" if cached else "cache off"


def _cache_counts(bench: Bench) -> tuple[float, float]:
    """publish's (hits, misses) of the public read cache so far, from /metrics."""
    url = f"http://127.0.0.1:{bench.stack.port('publish')}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()

    def total(name: str) -> float:
        return sum(float(v) for v in re.findall(rf"^{name}\{{[^}}]*\}} (\S+)$", text, re.M))

    return total("exchange_public_cache_hits_total"), total("exchange_public_cache_misses_total")


def _prime(bench: Bench, paths: list[str]) -> None:
    """Ask each distinct path once before a cached measurement: the rows then measure a warm cache (a quick
    run sends fewer requests than S4 has distinct terms, so a cold cache would measure mostly first asks)."""
    base = f"http://127.0.0.1:{bench.stack.port('publish')}"

    def ask(path: str) -> None:
        try:
            with urllib.request.urlopen(base + path, timeout=30) as response:  # noqa: S310 (loopback URL we built)
                response.read()
        except urllib.error.HTTPError:
            pass

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(ask, sorted(set(paths))))


def _hit_note(before: tuple[float, float], after: tuple[float, float]) -> str:
    hits, misses = after[0] - before[0], after[1] - before[1]
    return f"cache hits {hits / max(hits + misses, 1):.1%} of {hits + misses:,.0f}; "


def s4(bench: Bench) -> None:
    """Public search, the cache off (every request computed: the uncached target), then on."""
    terms: list[str] = []
    for cached in (False, True):
        try:
            ensure_publish(bench, cached=cached)
        except Exception as exc:
            print(f"    publish did not start: {str(exc)[:200]}", flush=True)
        why = disclosures_available(bench)
        label = _cache_label(cached)
        if why:
            bench.add(Row(f"S4 public queries ({label})", "requests/s", note=f"not available: {why}"))
            continue
        terms = terms or _terms(bench, 2000)
        _s4(bench, terms, cached)


def _s4(bench: Bench, terms: list[str], cached: bool) -> None:
    port = bench.stack.port("publish")
    label = _cache_label(cached)
    if cached:
        _prime(bench, [f"/v1/disclosures?q={quote(term)}" for term in terms])
    counted = _cache_counts(bench)
    found = find_max(
        bench, "S4", services=("publish",), levels=bench.config.connections, port=port, workload="query", terms=terms
    )
    hit_note = f"{len(set(terms))} distinct terms; {_hit_note(counted, _cache_counts(bench))}" if cached else ""
    target = TARGETS["S4_cached" if cached else "S4"]
    runs = found["runs"]
    best = bench.add(
        Row(
            f"S4 public queries ({label}): GET /v1/disclosures?q=, maximum",
            "requests/s",
            [r["requests_per_s"] for r in runs],
            latency=_latency(runs),
            baseline="bare FastAPI GET",
            baseline_value=bench.ceilings.get("http-get"),
            cpu_us=median_cpu([r["cpu_us"] for r in runs]),
            others=others_cores(runs),
            target=f">= {target:,.0f}/s",
            note=f"{found['connections']} connections; {hit_note}" + _unexpected(runs),
        )
    )
    best.met = best.median >= target
    if cached:
        return
    rate = bench.config.open_loop_fraction * best.median
    runs = open_latency(bench, "S4", rate=rate, services=("publish",), port=port, workload="query", terms=terms)
    lat = _latency(runs)
    bench.add(
        Row(
            f"S4 public queries (cache off): p99 at {bench.config.open_loop_fraction:.0%} of maximum ({rate:,.0f}/s)",
            "p99 ms",
            [r["latency_ms"].get("p99", float("nan")) for r in runs],
            latency=lat,
            cpu_us=median_cpu([r["cpu_us"] for r in runs]),
            others=others_cores(runs),
            target=f"p99 <= {TARGETS['S4_p99']:.0f} ms",
            met=lat["p99"] <= TARGETS["S4_p99"],
            note=_unexpected(runs),
        )
    )


def s4b(bench: Bench) -> None:
    """Portal HTML pages (issue 19): the home page with a search, a subject's page, a record's page; with the
    cache on first when publish already runs so (after S4: one restart fewer), then off."""
    order = (True, False) if bench.stack.settings.get("publish") == {"PUBLISH_PUBLIC_CACHE": "1"} else (False, True)
    paths: list[str] = []
    for cached in order:
        try:
            ensure_publish(bench, cached=cached)
        except Exception as exc:
            print(f"    publish did not start: {str(exc)[:200]}", flush=True)
        why = disclosures_available(bench)
        label = _cache_label(cached)
        if why:
            bench.add(Row(f"S4b portal HTML pages ({label})", "pages/s", note=f"not available: {why}"))
            continue
        paths = paths or _pages(bench, 600)
        _s4b(bench, paths, cached)


def _s4b(bench: Bench, paths: list[str], cached: bool) -> None:
    port = bench.stack.port("publish")
    label = _cache_label(cached)
    if cached:
        _prime(bench, paths)
    counted = _cache_counts(bench)
    found = find_max(
        bench, "S4b", services=("publish",), levels=bench.config.connections, port=port, workload="page", terms=paths
    )
    hit_note = _hit_note(counted, _cache_counts(bench)) if cached else ""
    runs = found["runs"]
    best = bench.add(
        Row(
            f"S4b portal HTML pages ({label}): home?q=, subject, record, maximum",
            "pages/s",
            [r["requests_per_s"] for r in runs],
            latency=_latency(runs),
            baseline="bare FastAPI GET",
            baseline_value=bench.ceilings.get("http-get"),
            cpu_us=median_cpu([r["cpu_us"] for r in runs]),
            others=others_cores(runs),
            target=f">= {TARGETS['S4b']:,.0f}/s",
            note=f"{found['connections']} connections; {len(set(paths))} distinct pages; {hit_note}"
            + _unexpected(runs),
        )
    )
    best.met = best.median >= TARGETS["S4b"]


def wait_outbox_empty(bench: Bench, timeout: float = 600) -> float:
    """Seconds until the ingest outbox is empty (everything accepted is on Kafka)."""
    started = time.monotonic()

    def empty() -> bool:
        return bench.stack.superuser_sql("SELECT count(*) FROM ingest.outbox", database="exchange") == "0"

    wait_until(empty, timeout=timeout, what="ingest outbox drained to Kafka")
    return time.monotonic() - started
