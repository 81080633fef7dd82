"""Issue 21, operations: the missing-holiday-year alert is re-raised while a service runs (not only at
start-up) and is a metric; the production guard refuses development settings, one line each, exit 2."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from services.common.calendar import WorkingDayCalendar
from services.common.calendar_alert import missing_year, watch_calendar
from services.common.clock import SHANGHAI, FixedClock
from services.common.production import production_problems, replication_problems
from services.common.settings import REPO_ROOT, CommonSettings


def _gauge(year: int) -> float | None:
    return REGISTRY.get_sample_value("exchange_calendar_year_missing", {"year": str(year)})


def _last_covered_year(calendar: WorkingDayCalendar) -> int:
    year = 2026
    while calendar.covers(year + 1):
        year += 1
    assert calendar.covers(year)
    return year


async def test_missing_year_alert_rises_on_1_october_while_the_service_runs() -> None:
    calendar = WorkingDayCalendar.load(REPO_ROOT / "schemas" / "calendar" / "overrides.yaml")
    year = _last_covered_year(calendar)
    clock = FixedClock(datetime(year, 9, 30, 23, 0, tzinfo=SHANGHAI))
    assert missing_year(calendar, clock) is None
    assert _gauge(year + 1) == 0

    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_calendar(calendar, clock, stop, every_seconds=0.01))
    try:
        clock.set(datetime(year, 10, 1, 0, 30, tzinfo=SHANGHAI))  # no restart: the running watcher sees it
        for _ in range(500):
            if _gauge(year + 1) == 1:
                break
            await asyncio.sleep(0.01)
        assert _gauge(year + 1) == 1
    finally:
        stop.set()
        await watcher


def _refusals(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("EXCHANGE_", "INGEST_", "DATABASE_URL"))}
    return subprocess.run(
        [sys.executable, "-m", "services.ingest"],
        env={**clean, **env},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_guard_refuses_development_settings_one_line_each_exit_2() -> None:
    done = _refusals(
        {
            "EXCHANGE_ENVIRONMENT": "production",
            "DATABASE_URL": "postgresql://exchange:exchange@db:5432/exchange",
            "INGEST_SIGNING_KEY_FILE": str(REPO_ROOT / ".run" / "keys" / "receipt-ed25519.pem"),
        }
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr
    assert len(lines) == 4, lines
    for variable in (
        "INGEST_SIGNING_KEY_FILE",
        "EXCHANGE_KAFKA_SECURITY_PROTOCOL=PLAINTEXT",
        "DATABASE_URL",
        "EXCHANGE_KAFKA_REPLICATION_FACTOR=1",
    ):
        assert sum(variable in line for line in lines) == 1, (variable, lines)
    assert all(line.startswith("ingest: refusing to start in production: ") for line in lines)


def test_production_guard_accepts_a_production_configuration_and_ignores_development(tmp_path: Path) -> None:
    production = CommonSettings(
        EXCHANGE_ENVIRONMENT="production",
        DATABASE_URL="postgresql://exchange:Xk9-long-random@db:5432/exchange",
        EXCHANGE_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        EXCHANGE_KAFKA_USERNAME="ingest",
        EXCHANGE_KAFKA_PASSWORD="another-long-random",
        EXCHANGE_KAFKA_REPLICATION_FACTOR=3,
    )
    assert production_problems(production, signing_key_file=tmp_path / "county-key.pem") == []
    weak = production.model_copy(update={"kafka_password": production.kafka_password.__class__("exchange")})
    assert [p.split("=")[0].split(" ")[0] for p in production_problems(weak)] == ["EXCHANGE_KAFKA_PASSWORD"]
    assert production_problems(CommonSettings(EXCHANGE_ENVIRONMENT="development")) == []


def test_the_workbench_is_not_asked_for_broker_settings_it_does_not_use() -> None:
    workbench = CommonSettings(
        EXCHANGE_ENVIRONMENT="production", DATABASE_URL="postgresql://exchange:Xk9-long-random@db:5432/exchange"
    )
    assert production_problems(workbench, uses_kafka=False) == []
    assert len(production_problems(workbench)) == 2  # a service with Kafka: PLAINTEXT and replication factor 1


def test_the_guard_names_every_exchange_topic_with_fewer_than_three_replicas() -> None:
    def topic(name: str, *replicas: int) -> dict[str, Any]:
        return {
            "error_code": 0,
            "topic": name,
            "partitions": [{"partition": i, "replicas": list(range(n))} for i, n in enumerate(replicas)],
        }

    metadata = [
        topic("county.records.administrative_penalty", 3, 3, 3),
        topic("county.records.court_judgment", 3, 1),  # one partition left on a single broker
        topic("county.outcomes.grading", 2),
        topic("other.team.topic", 1),  # not the exchange's
    ]
    (line,) = replication_problems(metadata, prefix="county.")
    assert "county.records.court_judgment (1)" in line
    assert "county.outcomes.grading (2)" in line
    assert "penalty" not in line
    assert "other.team" not in line
    assert replication_problems(metadata[:1], prefix="county.") == []


def test_replay_reports_every_difference_not_the_first_ten() -> None:
    from services.audit.replay_compare import TABLES, TableComparison

    diff = TableComparison(
        TABLES[0],
        live_rows=40,
        rebuilt_rows=15,
        digest="x",
        only_live=[f"code{i}" for i in range(25)],
        differing=[(f"k{i}", {"grade": ("A", "B")}) for i in range(12)],
    )
    lines = diff.lines()
    assert sum("only in live" in line for line in lines) == 25
    assert sum("grade: live=" in line for line in lines) == 12
    assert len(diff.as_dict()["only_live"]) == 25


def test_the_bridge_refuses_a_missing_or_development_key_for_webhook_secrets(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    from services.bridge.secret_box import DEVELOPMENT_KEY, SecretBox
    from services.bridge.settings import BridgeSettings

    sound = {
        "EXCHANGE_ENVIRONMENT": "production",
        "DATABASE_URL": "postgresql://exchange:Xk9-long-random@db:5432/exchange",
    }

    def refusals(**given: Any) -> list[str]:
        return production_problems(BridgeSettings(**sound, **given), uses_kafka=False)

    key = Fernet.generate_key().decode()
    assert refusals(secrets_key=key) == []
    assert refusals(secrets_key=f"{key},{Fernet.generate_key().decode()}") == []  # rotating
    own_file = tmp_path / "webhook-secrets.key"
    own_file.write_text(key + "\n")
    assert refusals(secrets_key_file=own_file) == []
    for given in (
        {},
        {"secrets_key": DEVELOPMENT_KEY},
        {"secrets_key": "not-a-key"},
        {"secrets_key_file": REPO_ROOT / ".run" / "keys" / "webhook-secrets.key"},
        {"secrets_key_file": tmp_path / "missing.key"},
    ):
        (line,) = refusals(**given)
        assert line.startswith("BRIDGE_SECRETS_KEY"), (given, line)
    assert production_problems(BridgeSettings(EXCHANGE_ENVIRONMENT="development"), uses_kafka=False) == []
    # The rotated key seals; the old one still opens what it sealed, and the start-up pass re-seals it.
    old, new = Fernet.generate_key().decode(), key
    sealed_before = SecretBox.from_text(old).seal("whsec_x")
    rotating = SecretBox.from_text(f"{new},{old}")
    assert rotating.open(sealed_before) == "whsec_x"
    assert SecretBox.from_text(new).open(rotating.reseal(sealed_before)) == "whsec_x"
    assert rotating.open("whsec_clear") == "whsec_clear"  # a row from before sealing
