"""What a bench run does, read from the environment once (`BENCH_*`).

`make bench` uses the defaults; the full target run is
`BENCH_S2_SECONDS=600 BENCH_S3_RECORDS=1000000 make bench`; `BENCH_QUICK=1` shortens every scenario
(≤ 15 s of measurement each, 2 repetitions) for development on a shared machine.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


@dataclass(frozen=True)
class BenchConfig:
    quick: bool
    repetitions: int  # measured repetitions per scenario (≥ 5 in a normal run)
    seconds: float  # measurement window of one repetition (S1, S1b, S4, baselines)
    warmup_seconds: float
    s2_seconds: int  # S2 runs once for this long, cut into `repetitions` equal windows
    s2_rate: float  # 0: min(3000, 0.7 x S1 maximum)
    s3_records: int
    s3_max_seconds: float  # a replay still running after this long is stopped; its rate so far counts
    s3b_max_seconds: float  # the same for the audit replay (S3b)
    s8_subjects: int  # S8: heavy subjects loaded …
    s8_records: int  # … with this many records each …
    s8_events: int  # … then this many new records per measured phase (new subjects, heavy subjects)
    s8_drain_limit: float  # seconds the consumers get to commit a phase's records
    open_loop_fraction: float  # latency is measured at this fraction of the measured maximum
    connections: tuple[int, ...]  # closed-loop concurrency levels tried during warm-up
    profile: bool  # py-spy the ingest process during one S1 repetition (needs py-spy in .venv)
    only: tuple[str, ...]  # run only these scenarios (e.g. BENCH_ONLY=S1,S1b); empty = all

    @classmethod
    def from_env(cls) -> BenchConfig:
        quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
        only = tuple(s.strip() for s in os.environ.get("BENCH_ONLY", "").split(",") if s.strip())
        return cls(
            quick=quick,
            repetitions=_int("BENCH_REPETITIONS", 2 if quick else 5),
            seconds=_float("BENCH_SECONDS", 3.0 if quick else 8.0),
            warmup_seconds=_float("BENCH_WARMUP_SECONDS", 1.5 if quick else 3.0),
            s2_seconds=_int("BENCH_S2_SECONDS", 12 if quick else 60),
            s2_rate=_float("BENCH_S2_RATE", 0.0),
            s3_records=_int("BENCH_S3_RECORDS", 20_000 if quick else 200_000),
            s3_max_seconds=_float("BENCH_S3_MAX_SECONDS", 10.0 if quick else 60.0),
            s3b_max_seconds=_float("BENCH_S3B_MAX_SECONDS", 90.0 if quick else 600.0),
            s8_subjects=_int("BENCH_S8_SUBJECTS", 200 if quick else 2000),
            s8_records=_int("BENCH_S8_RECORDS", 300),
            s8_events=_int("BENCH_S8_EVENTS", 600 if quick else 3000),
            s8_drain_limit=_float("BENCH_S8_DRAIN_LIMIT", 900.0 if quick else 3600.0),
            open_loop_fraction=_float("BENCH_OPEN_LOOP_FRACTION", 0.7),
            connections=tuple(int(c) for c in os.environ.get("BENCH_CONNECTIONS", "16,64,128").split(",")),
            profile=os.environ.get("BENCH_PROFILE", "1") not in ("", "0"),
            only=only,
        )

    def wants(self, scenario: str) -> bool:
        return not self.only or scenario in self.only

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
