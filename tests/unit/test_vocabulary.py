"""The vocabulary module (services/common/vocabulary.py) against the catalogue, the record schemas and the
AsyncAPI document, as `exchange catalogue check` holds it."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import orjson
import pytest

from services.common.catalogue import load_catalogue
from services.common.catalogue_check import Severity, check_catalogue, main_check, vocabulary_problems
from services.common.vocabulary import EventType, RecordTypeName, VerificationOutcome, event_kind, members

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@pytest.fixture
def schemas_copy(tmp_path: Path) -> Path:
    target = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, target)
    return target


def _errors(schemas_dir: Path) -> list[str]:
    return [p.message for p in check_catalogue(schemas_dir) if p.severity is Severity.ERROR]


def test_the_vocabulary_names_what_the_catalogue_and_asyncapi_declare() -> None:
    assert vocabulary_problems(load_catalogue(SCHEMAS), SCHEMAS) == []


def test_names_are_plain_strings_that_serialise_as_they_are() -> None:
    assert type(RecordTypeName.ADMINISTRATIVE_PENALTY) is str
    assert orjson.loads(orjson.dumps({RecordTypeName.RED_LIST: [VerificationOutcome.REJECTED]})) == {
        "red_list": ["不属实"]
    }
    assert event_kind(EventType.GRADE_CHANGED) == "grade.changed"
    assert len(members(RecordTypeName)) == 21


def test_an_event_type_the_asyncapi_document_lacks_fails_the_check(
    schemas_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = schemas_copy / "asyncapi.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(", cn.credit.repair.escalated]", "]", 1), encoding="utf-8")
    assert any("'cn.credit.repair.escalated' is in services/common/vocabulary.py" in m for m in _errors(schemas_copy))
    assert main_check(schemas_copy) == 1
    assert "cn.credit.repair.escalated" in capsys.readouterr().out


def test_an_event_type_the_code_does_not_know_fails_the_check(schemas_copy: Path) -> None:
    path = schemas_copy / "asyncapi.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("cn.credit.objection.escalated]", "cn.credit.objection.withdrawn]", 1), "utf-8")
    errors = _errors(schemas_copy)
    assert any("'cn.credit.objection.withdrawn' is in the AsyncAPI messages" in m for m in errors)


def test_a_verification_outcome_the_schema_does_not_allow_fails_the_check(schemas_copy: Path) -> None:
    path = schemas_copy / "records/objection_verification/v1.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["properties"]["outcome"]["enum"].remove("部分属实")
    path.write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    assert any("verification outcome '部分属实'" in m for m in _errors(schemas_copy))


def test_a_record_type_the_catalogue_lacks_is_reported() -> None:
    catalogue = load_catalogue(SCHEMAS)
    fewer = {k: v for k, v in catalogue.record_types.items() if k != RecordTypeName.RED_LIST}
    problems = vocabulary_problems(dataclasses.replace(catalogue, record_types=fewer), SCHEMAS)
    assert [p.message for p in problems] == [
        "record type 'red_list' is in services/common/vocabulary.py but not in the catalogue"
    ]
