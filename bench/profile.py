"""Where ingest's time goes under S1: py-spy samples the ingest process during one extra (unmeasured)
closed-loop run. The folded stacks are kept in bench/results/ (`*.ingest.folded`, readable by
speedscope or flamegraph.pl) and the top functions, by own time and by inclusive time, go in the JSON.

py-spy is optional (`pip install py-spy` into .venv; it needs ptrace): without it the bench says so.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bench.runner import Bench, http_spec
from bench.worker import run_worker

RESULTS = Path(__file__).resolve().parent / "results"
# Frames every request passes through: hiding them lets the inclusive list show the service's own code.
PLUMBING = ("runpy", "asyncio/", "uvicorn/", "starlette/", "fastapi/", "services/common/runtime.py:20")


def _py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


# Where a sample's time goes: the first of these found walking its stack from the leaf up.
BUCKETS = (
    ("validation (schema, codes, rules)", ("services/ingest/validation.py", "services/common/identifiers.py",
                                           "services/common/catalogue.py", "jsonschema")),
    ("receipts (hashes, Ed25519 signature)", ("services/ingest/receipts.py", "cryptography")),
    ("SQL (SQLAlchemy + asyncpg)", ("sqlalchemy/", "asyncpg/", "greenlet")),
    ("Kafka client (aiokafka, lz4)", ("aiokafka/",)),
    ("group commit / outbox (service code)", ("services/ingest/writer.py", "services/ingest/store.py",
                                              "services/common/outbox.py", "services/common/envelope.py")),
    ("auth", ("services/common/auth.py",)),
    ("endpoint code", ("services/ingest/api.py",)),
    ("HTTP framework (uvicorn, Starlette, FastAPI, middleware)", ("fastapi/", "starlette/", "uvicorn/", "httptools",
                                                                  "services/common/metrics.py", "prometheus",
                                                                  "services/common/http.py",
                                                                  "services/ingest/front.py")),
    ("event loop (uvloop, asyncio)", ("asyncio/", "uvloop")),
)  # fmt: skip


def buckets(folded: Path) -> list[tuple[str, float]]:
    counts: Counter[str] = Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        name = "other"
        for frame in reversed(stack.split(";")):
            found = next((label for label, keys in BUCKETS if any(k in frame for k in keys)), None)
            if found:
                name = found
                break
        counts[name] += int(count)
    return [(name, round(100 * n / total, 1)) for name, n in counts.most_common()] if total else []


def summarise(folded: Path, top: int = 15) -> dict[str, list[tuple[str, float]]]:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            if not any(p in frame for p in PLUMBING):
                inclusive[frame] += n
    if not total:
        return {"own": [], "inclusive": []}
    return {
        "own": [(f, round(100 * n / total, 1)) for f, n in own.most_common(top)],
        "inclusive": [(f, round(100 * n / total, 1)) for f, n in inclusive.most_common(top)],
    }


def profile_ingest(bench: Bench, *, port: int, connections: int) -> None:
    spy = _py_spy()
    if spy is None:
        bench.raw["profile"] = {"error": "py-spy is not installed in .venv (pip install py-spy)"}
        print("    profile: py-spy not installed; skipped", flush=True)
        return
    RESULTS.mkdir(exist_ok=True)
    folded = RESULTS / f"{bench.raw.get('started', 'run')}.ingest.folded"
    seconds = bench.config.seconds
    pid = bench.stack.service_pid("ingest")
    # --subprocesses: ingest may run several worker processes under uvicorn's supervisor (INGEST_WORKERS).
    argv = [spy, "record", "--pid", str(pid), "--subprocesses", "--duration", str(int(seconds)), "--rate", "200"]
    proc = subprocess.Popen(
        [*argv, "--format", "raw", "--output", str(folded)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    load: dict[str, Any] = {}
    try:
        load = run_worker(
            http_spec(
                bench,
                mode="closed",
                connections=connections,
                tag=bench.tag("f"),
                cpu={},
                port=port,
                workload="single",
                warmup=0.5,
                seconds=seconds + 1,
            ),
            timeout=120,
        )
    finally:
        out, _ = proc.communicate(timeout=60)
    if proc.returncode != 0 or not folded.exists():
        message = out.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        bench.raw["profile"] = {"error": f"py-spy failed: {message[0][:300]}"}
        print(f"    profile: py-spy failed ({message[0][:120]})", flush=True)
        return
    bench.raw["profile"] = {
        "file": str(folded.relative_to(RESULTS.parent.parent)),
        "records_per_s_while_profiled": load.get("records_per_s"),
        **summarise(folded),
        "buckets": buckets(folded),
    }
    print(f"    profile: {folded.relative_to(RESULTS.parent.parent)}", flush=True)
