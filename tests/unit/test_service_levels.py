"""Issue 15 item 11: schemas/jurisdiction.yaml is the one source of every service level, read by one loader."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from services.common.calendar import WorkingDayCalendar
from services.common.jurisdiction import (
    JurisdictionError,
    ServiceLevels,
    load_jurisdiction_file,
    load_service_levels,
)
from services.ingest.settings import IngestSettings
from services.publish.settings import PublishSettings

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def _schemas_with(tmp_path: Path, **levels: int) -> Path:
    target = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, target)
    path = target / "jurisdiction.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["service_levels"].update(levels)
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return target


def test_the_shipped_jurisdiction_sets_every_service_level() -> None:
    assert load_service_levels(SCHEMAS) == ServiceLevels(
        reporting_days=7,
        disclosure_working_days=7,
        objection_verification_working_days=20,
        repair_accept_working_days=3,
        repair_decide_working_days=7,
        repair_extension_working_days=10,
        withdrawal_working_days=3,
    )


def test_disclosure_deadline_follows_the_jurisdiction_not_a_constant(tmp_path: Path) -> None:
    schemas = _schemas_with(tmp_path, disclosure_working_days=5)
    calendar = WorkingDayCalendar.load(schemas / "calendar" / "overrides.yaml")
    # 2026-11-02 is a Monday: 5 working days later is Monday 11-09 (7 would be Wednesday 11-11).
    assert calendar.disclosure_deadline(date(2026, 11, 2)).date == date(2026, 11, 9)
    assert WorkingDayCalendar.load(SCHEMAS / "calendar" / "overrides.yaml").disclosure_deadline(
        date(2026, 11, 2)
    ).date == date(2026, 11, 11)


def test_services_read_their_periods_from_the_jurisdiction_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schemas = _schemas_with(tmp_path, reporting_days=10, objection_verification_working_days=15)
    monkeypatch.setenv("EXCHANGE_SCHEMAS_DIR", str(schemas))
    assert IngestSettings().service_levels.reporting_days == 10
    assert PublishSettings().service_levels.objection_verification_working_days == 15


def test_no_environment_variable_overrides_a_service_level(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_REPORTING_DAYS", "30")
    monkeypatch.setenv("PUBLISH_OBJECTION_WORKING_DAYS", "60")
    monkeypatch.delenv("EXCHANGE_SCHEMAS_DIR", raising=False)
    assert IngestSettings().service_levels.reporting_days == 7
    assert PublishSettings().service_levels.objection_verification_working_days == 20
    assert not hasattr(PublishSettings(), "objection_working_days")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["service_levels"].pop("withdrawal_working_days"),
            "service_levels.withdrawal_working_days: missing",
        ),
        (lambda d: d["service_levels"].update(grace_days=2), "service_levels.grace_days: unknown key"),
        (lambda d: d["service_levels"].update(reporting_days=0), "service_levels.reporting_days: expected an integer"),
        (lambda d: d["service_levels"].update(repair_accept_working_days="3"), "repair_accept_working_days"),
        (lambda d: d.pop("service_levels"), "service_levels: missing"),
    ],
)
def test_a_malformed_jurisdiction_file_is_refused_naming_the_key(tmp_path: Path, edit: object, message: str) -> None:
    document = yaml.safe_load((SCHEMAS / "jurisdiction.yaml").read_text(encoding="utf-8"))
    assert callable(edit)
    edit(document)
    path = tmp_path / "jurisdiction.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(JurisdictionError, match=message) as raised:
        load_jurisdiction_file(path)
    assert str(path) in str(raised.value)


def test_no_extension_of_a_repair_is_allowed_as_zero(tmp_path: Path) -> None:
    schemas = _schemas_with(tmp_path, repair_extension_working_days=0)
    assert load_service_levels(schemas).repair_extension_working_days == 0
