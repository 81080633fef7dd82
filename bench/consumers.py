"""S3 (replay), S3b (audit replay) and S2 (full pipeline): the scenarios that involve the consuming services."""

from __future__ import annotations

import threading
from typing import Any

from bench.heavy import memory_rows
from bench.kafkatools import fast_forward
from bench.runner import Bench, Row, cpu_per_record, median_cpu, others_cores
from bench.scenarios import TARGETS, disclosures_available, wait_outbox_empty
from bench.stats import spread
from bench.worker import run_worker
from deploy.local_kafka import run_coroutine_in_thread
from services.common.consumer_service import record_topics, subscriptions
from services.common.settings import CommonSettings
from services.manifests import BY_NAME

CONSUMERS = ("grading", "sanctions", "publish")
REPLAY_DB = "bench_replay"


def _topics(bench: Bench) -> list[str]:
    return record_topics(CommonSettings(topic_prefix=bench.stack.config.topic_prefix))


def consumer_groups(bench: Bench) -> dict[str, list[str]]:
    """Each consumer's group and the topics its manifest subscribes it to (grade and objection events
    included: they are work the consumer does too)."""
    settings = CommonSettings(topic_prefix=bench.stack.config.topic_prefix)
    return {
        f"{settings.topic_prefix}{s}": subscriptions(BY_NAME[s], settings, service=s, redrive=False) for s in CONSUMERS
    }


def _migrate(url: str) -> None:
    from services.common.migrations import upgrade_all

    errors: list[BaseException] = []

    def target() -> None:
        try:
            upgrade_all(url)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


# -- S3 -----------------------------------------------------------------------------------------------------


def load_records(bench: Bench, n: int) -> None:
    """`n` clean records through POST /v1/records:batch, then wait until ingest's outbox is on Kafka."""
    print(f"    loading {n:,} records through POST /v1/records:batch …", flush=True)
    load = run_worker(
        {
            "kind": "http",
            "mode": "closed",
            "workload": "batch",
            "batch": 500,
            "clean": True,
            "limit": n // 500,
            "connections": 4,
            "port": bench.stack.port("ingest"),
            "tokens": bench.stack.tokens,
            "warmup": 0.0,
            "seconds": 3600.0,
            "seed": bench.seed(),
            "tag": bench.tag("r"),
            "cpu": {},
        },
        timeout=3600,
    )
    drained = wait_outbox_empty(bench)
    print(
        f"    loaded {load['accepted']:,} records in {load['seconds']:.0f} s ({load['records_per_s']:,.0f}/s); "
        f"outbox on Kafka {drained:.0f} s later" + (f"; {load['unexpected']}" if load["unexpected"] else ""),
        flush=True,
    )
    bench.raw["S3/load"] = {**load, "outbox_drain_s": drained}


def s3(bench: Bench) -> None:
    c = bench.config
    load_records(bench, c.s3_records)
    topics = _topics(bench)
    url = bench.stack.scratch_database(REPLAY_DB)
    _migrate(url)
    infra = bench.stack.infra_pids()
    base = {"bootstrap": bench.stack.bootstrap, "topics": topics, "cpu": infra}
    # Warm-up: one unmeasured bare pass reads every topic once (broker page cache, group coordinator).
    run_worker({**base, "kind": "consume-bare", "group": f"bench-warm-{bench.seed()}"}, timeout=1800)
    bare_runs, replay_runs = [], []
    for _ in range(c.repetitions):
        bare_runs.append(
            run_worker({**base, "kind": "consume-bare", "group": f"bench-bare-{bench.seed()}"}, timeout=1800)
        )
        bench.stack.superuser_sql(_truncate_sql("grading"), database=REPLAY_DB)
        replay_runs.append(
            run_worker(
                {
                    **base,
                    "kind": "replay",
                    "group": f"bench-replay-{bench.seed()}",
                    "database_url": url,
                    "topic_prefix": bench.stack.config.topic_prefix,
                    "max_seconds": c.s3_max_seconds,
                },
                timeout=3600,
            )
        )
    bench.raw["S3"] = {"bare": bare_runs, "replay": replay_runs}
    bare = bench.add(
        Row(
            "baseline: bare aiokafka getmany loop, no processing",
            "records/s",
            [r["per_s"] for r in bare_runs],
            cpu_us=median_cpu([cpu_per_record(r["cpu_s"], r["count"], ()) for r in bare_runs]),
            others=others_cores(bare_runs),
            note=f"{bare_runs[0]['count']:,} messages on {len(topics)} record topics",
        )
    )
    bench.ceilings["consume-bare"] = bare.median
    # In the replay worker the consumer *is* the worker process: its CPU is the service's.
    cpu = [
        cpu_per_record({**r["cpu_s"], "grading": r["cpu_s"].get("loadgen", 0.0)}, r["count"], ("grading",))
        for r in replay_runs
    ]
    for entry in cpu:
        entry["loadgen"] = 0.0
    row = bench.add(
        Row(
            "S3 replay: fresh grading consumer group from offset 0, outbox relay running",
            "records/s",
            [r["per_s"] for r in replay_runs],
            baseline="bare getmany",
            baseline_value=bare.median,
            cpu_us=median_cpu(cpu),
            others=others_cores(replay_runs),
            target=f">= {TARGETS['S3']:,.0f}/s and >= {TARGETS['S3_ratio']} x bare",
            note=_replay_note(replay_runs, c.s3_max_seconds),
        )
    )
    row.met = row.median >= TARGETS["S3"] and (row.ratio or 0) >= TARGETS["S3_ratio"]
    bench.ceilings["S3"] = row.median
    bench.stack.superuser_sql(f"DROP DATABASE IF EXISTS {REPLAY_DB} WITH (FORCE)")


def s3b(bench: Bench) -> None:
    """`exchange audit replay` of grading, sanctions and publish from offset 0 (whatever the earlier
    scenarios wrote; run alone, it first loads BENCH_S3_RECORDS records)."""
    c = bench.config
    if "S3/load" not in bench.raw:
        load_records(bench, c.s3_records)
    runs = []
    for _ in range(max(1, c.repetitions // 2)):
        runs.append(
            run_worker(
                {
                    "kind": "audit-replay",
                    "database_url": bench.stack.database_url,
                    "bootstrap": bench.stack.bootstrap,
                    "topic_prefix": bench.stack.config.topic_prefix,
                    "max_seconds": c.s3b_max_seconds,
                    "cpu": bench.stack.infra_pids(),
                },
                timeout=c.s3b_max_seconds + 900,
            )
        )
    bench.raw["S3b"] = runs
    cpu = [
        cpu_per_record({**r["cpu_s"], "audit": r["cpu_s"].get("loadgen", 0.0)}, r["count"], ("audit",)) for r in runs
    ]
    for entry in cpu:
        entry["loadgen"] = 0.0
    first = runs[0]
    if first["complete"]:
        applied = ", ".join(f"{k} {v:,}" for k, v in first["applied"].items())
        note = (
            f"events applied: {applied} (read {first['read']:,} messages in {first['read_seconds']:.0f} s, "
            f"applied in {first['apply_seconds']:.0f} s); CPU per event over the whole command"
            + (f"; refused: {first['refused']}" if first["refused"] else "")
        )
    else:
        note = (
            f"stopped after {c.s3b_max_seconds:.0f} s (BENCH_S3B_MAX_SECONDS) at {first['count']:,} events applied; "
            "rate between the first and last progress line"
        )
    row = bench.add(
        Row(
            "S3b audit replay: grading, sanctions and publish from offset 0 (exchange audit replay)",
            "events/s",
            [r["per_s"] for r in runs],
            cpu_us=median_cpu(cpu),
            others=others_cores(runs),
            target=f">= {TARGETS['S3b']:,.0f}/s",
            note=note,
        )
    )
    row.met = row.median >= TARGETS["S3b"] and all(r["complete"] for r in runs)


def _replay_note(runs: list[dict[str, Any]], limit: float) -> str:
    first = runs[0]
    if first["count"] < first["total"]:
        rate = spread([r["per_s"] for r in runs])["median"]
        whole = first["total"] / rate / 60 if rate else float("inf")
        done = (
            f"stopped after {limit:.0f} s (BENCH_S3_MAX_SECONDS) at {first['count']:,} of {first['total']:,} records; "
        )
        done += f"the whole replay would take ~{whole:,.0f} min"
    else:
        done = f"all {first['total']:,} records"
    return f"{done}; {first['handler']}"


def _truncate_sql(schema: str) -> str:
    return (
        "DO $$ DECLARE t text; BEGIN FOR t IN SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
        f"WHERE schemaname = '{schema}' AND tablename <> 'alembic_version' "
        "LOOP EXECUTE 'TRUNCATE ' || t || ' CASCADE'; END LOOP; END $$"
    )


# -- S2 -----------------------------------------------------------------------------------------------------


def start_consumers(bench: Bench) -> str | None:
    """Move the consumer groups past the earlier scenarios' records, then start the three services."""
    for group, topics in consumer_groups(bench).items():
        run_coroutine_in_thread(fast_forward(bench.stack.bootstrap, group, topics))
    try:
        bench.stack.start_services(*CONSUMERS)
    except Exception as exc:
        return f"consumers did not start: {str(exc)[:300]}"
    return None


def offered_rate(bench: Bench) -> float:
    """The target rate, unless ingest alone cannot take it (70 % of the S1 maximum) or the grading
    consumer alone, with the whole machine, could not follow half of it (2 x the S3 rate): offering
    more would only drown ingest in its own backlog, while 2 x S3 still shows the consumers' limit."""
    rate = TARGETS["S2"]
    if "S1" in bench.ceilings:
        rate = min(rate, 0.7 * bench.ceilings["S1"])
    if bench.ceilings.get("S3"):
        rate = min(rate, 2 * bench.ceilings["S3"])
    return max(rate, 10.0)


def s2(bench: Bench) -> None:
    c = bench.config
    why = start_consumers(bench)
    if why:
        bench.add(Row("S2 full pipeline", "records/s", note=f"not available: {why}"))
        return
    query = disclosures_available(bench)
    rate = c.s2_rate or offered_rate(bench)
    services = ("ingest", *CONSUMERS)
    print(f"    S2 at {rate:,.0f} records/s for {c.s2_seconds} s (BENCH_S2_SECONDS; the target run uses 600) …")
    result = run_worker(
        {
            "kind": "pipeline",
            "rate": rate,
            "seconds": c.s2_seconds,
            "windows": c.repetitions,
            "warmup": c.warmup_seconds,
            "ingest_port": bench.stack.port("ingest"),
            "query_port": bench.stack.port("publish") if query is None else 0,
            "tokens": bench.stack.tokens,
            "connections": 256,
            "dsn": bench.stack.dsn,
            "schemas": list(CONSUMERS),
            "groups": consumer_groups(bench),
            "record_topics": _topics(bench),
            "bootstrap": bench.stack.bootstrap,
            "rss": {s: bench.stack.service_pid(s) for s in services},
            "drain_limit": 120.0,
            "seed": bench.seed(),
            "tag": bench.tag("p"),
            "cpu": bench.cpu_groups(*services),
        },
        timeout=c.s2_seconds + 600,
    )
    bench.raw["S2"] = result
    windows = result["windows"]
    cpu = median_cpu([cpu_per_record(w["cpu_s"], w["accepted"], services) for w in windows if w["cpu_s"]])
    lag_ok, lag_note = _lag_bounded(result)
    ingest_rate = spread([w["accepted"] / (c.s2_seconds / len(windows)) for w in windows])["median"]
    through = bench.add(
        Row(
            f"S2 full pipeline: records/s through every consumer ({rate:,.0f}/s offered, {c.s2_seconds} s)",
            "records/s",
            [_through_all(w) for w in windows],
            latency=_median_latency(windows, "latency_ms"),
            baseline="bare producer",
            baseline_value=bench.ceilings.get("kafka-produce"),
            cpu_us=cpu,
            others=others_cores(windows),
            target=f">= {TARGETS['S2']:,.0f}/s, lag bounded; CPU <= {TARGETS['S2_cpu']:.0f} µs",
            note=f"ingest accepted {ingest_rate:,.0f}/s (202); POST p50/p99 shown; "
            + f"events/s committed per consumer (grade and objection events included): {_events_note(windows)}; "
            + lag_note
            + (f"; {_unexpected_of(result['whole'])}" if result["whole"]["unexpected"] else "")
            + ("" if query is None else f"; public queries not sent ({query})"),
        )
    )
    through.met = through.median >= TARGETS["S2"] and lag_ok and cpu.get("service", 1e9) <= TARGETS["S2_cpu"]
    visible = _median_latency(windows, "visible_ms")
    bench.add(
        Row(
            f"S2 202 -> visible in grading, sanctions and publish (every record, commit time; {rate:,.0f}/s offered)",
            "p99 ms",
            [w["visible_ms"].get("p99", float("nan")) for w in windows],
            latency=visible,
            target=f"p99 <= {TARGETS['S2_p99']:.0f} ms at 70 % of {TARGETS['S2']:,.0f}/s",
            met=visible.get("p99", float("inf")) <= TARGETS["S2_p99"],
            note=(
                "inbox rows' commit timestamps read after the run (nothing polls the database meanwhile); "
                f"never visible: {result['never_visible']} {_not_applied(result)}"
            ),
        )
    )
    memory_rows(bench, "S2", result.get("memory_mb") or [])
    if result.get("queries"):
        q = result["queries"]
        bench.add(
            Row(
                f"S2 public queries during the run ({rate * 0.1:,.0f}/s)",
                "requests/s",
                [q["requests_per_s"]],
                latency={k: q["latency_ms"].get(k, float("nan")) for k in ("p50", "p99")},
                note="whole run, not windowed",
            )
        )


def _unexpected_of(summary: dict[str, Any]) -> str:
    return "unexpected: " + ", ".join(f"{k} x{n}" for k, n in sorted(summary["unexpected"].items()))


def _not_applied(result: dict[str, Any]) -> str:
    parts = [f"{schema}: {counts}" for schema, counts in result.get("not_applied", {}).items() if counts]
    return f"(not applied: {'; '.join(parts)})" if parts else ""


def _events_note(windows: list[dict[str, Any]]) -> str:
    groups = sorted({g for w in windows for g in w.get("events_per_s", {})})
    return ", ".join(
        f"{g.rsplit('.', 1)[-1]} {spread([w['events_per_s'].get(g, float('nan')) for w in windows])['median']:,.0f}"
        for g in groups
    )


def _through_all(window: dict[str, Any]) -> float:
    """The slowest consumer's committed records/s in the window (what made it through the whole pipeline)."""
    rates = window.get("consumed_per_s") or {}
    return min(rates.values()) if rates else float("nan")


def _median_latency(windows: list[dict[str, dict[str, float]]], key: str) -> dict[str, float]:
    return {q: spread([w[key].get(q, float("nan")) for w in windows])["median"] for q in ("p50", "p99")}


def _lag_bounded(result: dict[str, Any]) -> tuple[bool, str]:
    """Bounded: the consumers drain what is left within 10 s of the load stopping, and the total lag in
    the second half of the run (over every topic each consumer reads, grade events included) does not grow
    by more than 2 % of the offered rate per second."""
    samples = [(t, sum(sum(by_topic.values()) for by_topic in v.values())) for t, _, v in result["lag"]]
    seconds = float(result["seconds"])
    half = [(t, lag) for t, lag in samples if seconds / 2 <= t <= seconds]
    slope = _slope(half)
    drain = result["drain_seconds"]
    peak = max((lag for t, lag in samples if 0 <= t <= seconds), default=0)
    rate = float(result["rate"])
    ok = drain is not None and float(drain) <= 10 and slope <= 0.02 * rate
    drain_text = f"{float(drain):.1f} s" if drain is not None else "not within 120 s"
    return ok, f"lag max {peak:,} events, trend {slope:+,.0f}/s, drained {drain_text} after the load"


def _slope(points: list[tuple[float, int]]) -> float:
    if len(points) < 3:
        return 0.0
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    den = sum((t - mx) ** 2 for t, _ in points)
    return sum((t - mx) * (v - my) for t, v in points) / den if den else 0.0
