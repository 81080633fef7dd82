"""The table `make bench` prints, the versions and settings it ran with, and the JSON it keeps in
`bench/results/<timestamp>.json` (git-ignored)."""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import os
import platform
import re
import sys
from pathlib import Path
from typing import Any

from bench.runner import Bench, Row
from bench.stats import spread

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = (
    "fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic", "aiokafka", "asyncpg", "sqlalchemy",
    "orjson", "jsonschema-rs", "cryptography", "py-spy",
)  # fmt: skip


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def _keywords(function: Any, after: str = "") -> dict[str, str]:
    """`name=value` arguments written in a function's source (the client settings as the code has them)."""
    source = inspect.getsource(function)
    source = source[source.index(after) :] if after in source else source
    return dict(re.findall(r"^\s+(\w+)=([^,\n]+),?$", source, flags=re.MULTILINE))


def environment(bench: Bench) -> dict[str, Any]:
    from deploy.local_kafka import KAFKA_VERSION
    from services.common import db, kafka, runtime
    from services.ingest.settings import IngestSettings

    def show(setting: str) -> str:
        try:
            return bench.stack.superuser_sql(f"SHOW {setting}")
        except Exception as exc:
            return f"? ({exc})"[:80]

    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    ingest = IngestSettings()
    return {
        "python": sys.version.split()[0],
        "kafka": KAFKA_VERSION,
        "postgresql": show("server_version"),
        "packages": {name: _version(name) for name in PACKAGES},
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model,
            "kernel": platform.release(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        },
        "settings": {
            "kafka_producer": _keywords(kafka.make_producer),
            "kafka_consumer": _keywords(kafka.make_consumer),
            "uvicorn": _keywords(runtime.serve, after="uvicorn.run("),
            "db_engine": _keywords(db.create_engine),
            "ingest": {"pool_size": ingest.pool_size, "max_batch": ingest.max_batch},
            "postgres": {
                s: show(s)
                for s in ("synchronous_commit", "fsync", "wal_sync_method", "shared_buffers", "max_connections")
            },
            "kafka_broker": "single KRaft node (deploy/local_kafka.py), 1 GiB heap, 6 partitions per record topic",
            "bench": bench.config.as_dict(),
        },
    }


def _num(value: float | None, digits: int = 0) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:,.{digits}f}"


def _cells(row: Row) -> list[str]:
    s = spread(row.values)
    # latencies and ratios (S8's "x") need their decimal: 0.3 x is not "0 x"
    digits = 1 if row.figure.endswith("ms") or row.figure == "x" else 0
    rng = f"{_num(s['min'], digits)}–{_num(s['max'], digits)}" if s["n"] else "-"
    lat = f"{_num(row.latency.get('p50'), 1)} / {_num(row.latency.get('p99'), 1)}" if row.latency else "-"
    ratio = f"{row.ratio:.2f} x {row.baseline}" if row.ratio is not None else "-"
    cpu = row.cpu_us or {}
    cpu_text = f"{_num(cpu.get('service'))} / {_num(cpu.get('infra'))} / {_num(cpu.get('loadgen'))}" if cpu else "-"
    met = {True: "MET", False: "NOT MET", None: ""}[row.met]
    if row.note.startswith("not available"):
        met = "n/a"
    others = _num(row.others, 2) if row.others is not None else "-"
    return [row.scenario, f"{_num(s['median'], digits)} {row.figure}", rng, f"{s['n']}", lat, ratio, cpu_text,
            others, row.target, met]  # fmt: skip


HEADERS = ["scenario", "median", "range (min–max)", "n", "p50 / p99 ms", "ratio vs baseline",
           "CPU µs/rec svc / infra / loadgen", "others", "target", "met"]  # fmt: skip


def table(rows: list[Row]) -> str:
    cells = [HEADERS, *(_cells(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADERS))]
    lines = []
    for n, line in enumerate(cells):
        lines.append(" | ".join(text.ljust(widths[i]) for i, text in enumerate(line)).rstrip())
        if n == 0:
            lines.append("-+-".join("-" * w for w in widths))
    notes = [f"  [{r.scenario.split(':')[0]}] {r.note}" for r in rows if r.note]
    return "\n".join([*lines, "", "notes:", *notes])


def print_report(bench: Bench, env: dict[str, Any]) -> None:
    print("\n" + "=" * 100)
    print(
        "credit-exchange bench",
        "(QUICK: shortened, not comparable with targets)" if bench.config.quick else "",
    )
    print("=" * 100)
    print(table(bench.rows))
    print(
        "\nrange = min–max over repetitions (S2: over equal windows of one run); CPU µs per accepted (202) record,\n"
        "from /proc utime+stime: svc = the exchange's service processes, infra = PostgreSQL + Kafka, loadgen =\n"
        "the load generator (or, for baselines, the bare client). others = CPU cores used meanwhile by processes\n"
        "outside the bench (other work on this machine: every figure is lower when it is high). records/s counts\n"
        "records answered as expected (202 new, 200 duplicate retry, 422 invalid)."
    )
    c = bench.config
    print(
        f"S2 ran {c.s2_seconds} s (BENCH_S2_SECONDS; the target is 600 s), "
        f"S3 replayed BENCH_S3_RECORDS={c.s3_records:,} records (the target is 1,000,000) plus what S1/S1b wrote;\n"
        f"S8 loaded {c.s8_subjects:,} subjects x {c.s8_records} records (the target is 2,000 x 300). Targets: issue 19 "
        "(S1, S1b, S4, S4b), issue 18 (S2, S3, S3b, S8, memory), issues 16, 17, 20 (S6, S7, S5)."
    )
    profile = bench.raw.get("profile") or {}
    if profile.get("own"):
        print(
            f"\ningest profile under S1 (py-spy, {profile['file']}): top own time "
            "(Runner.run = the event loop itself: uvloop, sockets)"
        )
        for frame, share in profile["own"][:10]:
            print(f"  {share:5.1f} %  {frame}")
        print("where ingest's CPU goes (each sample charged to the innermost of these it is in):")
        for name, share in profile.get("buckets", []):
            print(f"  {share:5.1f} %  {name}")
    elif profile.get("error"):
        print(f"\ningest profile: {profile['error']}")
    pk = env["packages"]
    print(
        f"\nversions: Python {env['python']}, Kafka {env['kafka']}, PostgreSQL {env['postgresql']}, "
        + ", ".join(f"{k} {v}" for k, v in pk.items())
    )
    m = env["machine"]
    print(f"machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, Linux {m['kernel']}")
    st = env["settings"]
    print(f"producer: {st['kafka_producer']}")
    print(f"consumer: {st['kafka_consumer']}")
    print(f"uvicorn: {st['uvicorn']}; PostgreSQL: {st['postgres']}; ingest: {st['ingest']}")


def write_json(bench: Bench, env: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{bench.raw.get('started', 'run')}.json"
    document = {"environment": env, "rows": [r.as_dict() for r in bench.rows], "raw": bench.raw}
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False, default=str))
    return path
