"""Ingest settings (`INGEST_*`), on top of the shared ones."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import REPO_ROOT, CommonSettings


class IngestSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8001
    signing_key_file: Path = REPO_ROOT / ".run" / "keys" / "receipt-ed25519.pem"
    # Public keys of earlier signing keys (`exchange keys rotate`); default `<key dir>/public`.
    public_keys_dir: Path | None = None
    max_body_bytes: int = 1_048_576
    max_batch: int = 1000
    pool_size: int = 10
    # Worker processes on the one port (`services.common.runtime.serve`). Ingest is CPU-bound Python, one
    # process per core; None: the cores this process may use less one (PostgreSQL, Kafka and the consumers
    # on the same machine need it; on 2 cores a second worker cost ~18 % more CPU per record and 3 × the
    # memory), at least 1, at most 4 (beyond that, run replicas). Where the core count seen is not the CPU
    # limit (a container), set it to the limit.
    workers: int | None = Field(default=None, ge=1, le=64)
    # A group commit (chain-head locks, inserts, COMMIT) that takes longer answers 503 instead of hanging
    # (writer.py: database_slow, or outcome_unknown when COMMIT itself did not answer in time).
    commit_timeout_seconds: float = Field(default=5.0, gt=0)
    # How often the missing-holiday-year alert is re-evaluated (log line + exchange_calendar_year_missing).
    calendar_check_seconds: float = Field(default=3600.0, gt=0)

    def worker_count(self) -> int:
        return self.workers or max(1, min(4, len(os.sched_getaffinity(0)) - 1))
