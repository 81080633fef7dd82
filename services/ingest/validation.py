"""Validation of one submitted record: the envelope, the catalogue schema, and the domain checks.

Pure: no I/O, no clock (the caller passes `today`). Every problem found is reported, each with the JSON
pointer of the offending value, so a department's engineer can fix a record in one round trip.
Validators are compiled once per (type, version) when the catalogue is loaded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson

from services.common.catalogue import Catalogue, RecordType, TypeVersion, iter_field_values
from services.common.errors import ApiError
from services.common.identifiers import check_citizen_id, check_uscc
from services.ingest import rules

SUBJECT_KIND_LABELS = {
    "legal_person": "法人及非法人组织",
    "individual_business": "个体工商户",
    "natural_person": "自然人",
}
CITIZEN_ID = "身份证"
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


Problem = ApiError  # a validation problem is reported exactly as an API error item


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome for one record: `forbidden` wins over `errors` (403 before 422)."""

    record_type: RecordType | None
    type_version: TypeVersion | None
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    forbidden: Problem | None = None

    @property
    def accepted(self) -> bool:
        return self.forbidden is None and not self.errors


def _pointer(base: str, parts: list[str | int]) -> str:
    return base + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _schema_problems(validator: Any, instance: Any, base: str) -> Iterator[Problem]:
    # Nearly every record is valid: `is_valid` says so without building the walk for errors (1–3 µs less).
    if validator.is_valid(instance):
        return
    for err in validator.iter_errors(instance):
        kind = err.kind
        name = type(kind).__name__
        code = _CAMEL.sub("_", name).lower()
        path = list(err.instance_path)
        if name == "Required":
            path.append(kind.property)
        elif name == "AdditionalProperties" and len(kind.unexpected) == 1:
            path.append(kind.unexpected[0])
        yield Problem(_pointer(base, path), code, err.message)


class RecordValidator:
    """Holds the compiled validators of a catalogue; `validate` is the hot path."""

    def __init__(self, catalogue: Catalogue, schemas_dir: Path) -> None:
        self.catalogue = catalogue
        envelope_schema = json.loads((schemas_dir / "envelope.json").read_text(encoding="utf-8"))
        self._envelope = jsonschema_rs.validator_for(envelope_schema, validate_formats=True)
        self._data: dict[tuple[str, int], Any] = {
            (rt.name, v.version): jsonschema_rs.validator_for(dict(v.schema), validate_formats=True)
            for rt in catalogue.record_types.values()
            for v in rt.versions.values()
        }

    def data_problems(self, record_type: str, version: int, data: Any, base: str) -> list[Problem]:
        """Schema problems of `data` as a record of `record_type` v`version` (also used for corrections)."""
        return list(_schema_problems(self._data[(record_type, version)], data, base))

    def validate(self, submission: Any, *, department: str, today: date, national_channel: bool = False) -> Verdict:
        envelope_errors = list(_schema_problems(self._envelope, submission, ""))
        if envelope_errors:
            return Verdict(None, None, tuple(envelope_errors), ())
        if "source" in submission and not national_channel:
            return Verdict(
                None,
                None,
                (),
                (),
                Problem(
                    "/source",
                    "source_not_allowed",
                    "只有国家级名单通道可以报送 source (only the national-list channel credential may set source)",
                ),
            )
        record_type = self.catalogue.record_types.get(submission["type"])
        if record_type is None:
            known = ", ".join(sorted(self.catalogue.record_types))
            return Verdict(None, None, (Problem("/type", "unknown_type", f"unknown record type; known: {known}"),), ())
        if department not in record_type.departments:
            return Verdict(
                record_type,
                None,
                (),
                (),
                Problem(
                    "/type",
                    "type_not_in_catalogue_entry",
                    f"department {department} may not report {record_type.name} ({record_type.title}): "
                    "not in its catalogue entry (权责清单)",
                ),
            )
        type_version = record_type.version_in_force(submission["version"], today)
        if type_version is None:
            in_force = sorted(v.version for v in record_type.versions.values() if v.effective_from <= today)
            return Verdict(
                record_type,
                None,
                (
                    Problem(
                        "/version",
                        "version_not_in_force",
                        f"{record_type.name} has no version {submission['version']} in force; in force: {in_force}",
                    ),
                ),
                (),
            )
        errors: list[Problem] = []
        warnings: list[Problem] = []
        errors += self.data_problems(record_type.name, type_version.version, submission["data"], "/data")
        errors += _nul_problems(submission, "")
        _check_subject(submission["subject"], errors, warnings)
        _check_decision_date(submission, record_type, today, errors)
        if not errors:
            # Field-level domain checks assume the schema held (types and formats are right).
            _check_subject_agrees(submission, record_type, errors)
            _check_data_fields(submission["data"], record_type, errors, warnings)
            _check_issue_15_rules(
                submission, record_type, type_version.version, department, self.catalogue, errors, warnings
            )
        return Verdict(record_type, type_version, tuple(errors), tuple(warnings))


def _nul_problems(value: Any, pointer: str) -> list[Problem]:
    """NUL (U+0000) anywhere in the record, keys included: JSON allows it, but no PostgreSQL text or jsonb
    value can hold it, so every consumer would dead-letter the record after ingest had accepted it."""
    found: list[Problem] = []
    # JSON writes U+0000 only as the escape \u0000 (orjson, like RFC 8259, refuses it raw in a string), so a
    # record whose serialisation lacks that escape holds no NUL, keys included: one C call instead of a walk
    # of every value. A literal backslash followed by "u0000" in a text also matches; the walk then decides.
    try:
        if b"\\u0000" not in orjson.dumps(value):
            return found
    except TypeError:  # not from JSON (orjson.JSONEncodeError is a TypeError): walk it
        pass
    _find_nul(value, [], found, pointer)
    return found


def _find_nul(value: Any, path: list[str | int], found: list[Problem], base: str) -> None:
    # The path is a stack of keys; its JSON pointer is built only when a NUL is found (this runs on every
    # record, and nearly none has one).
    if isinstance(value, str):
        if "\x00" in value:
            found.append(
                Problem(
                    _pointer(base, path),
                    "nul_character",
                    "text must not contain the NUL character (U+0000, JSON \\u0000); remove it (文本中不能含有空字符)",
                )
            )
    elif isinstance(value, dict):
        for key, child in value.items():
            path.append(key)
            if "\x00" in key:
                _find_nul(key, path, found, base)
            _find_nul(child, path, found, base)
            path.pop()
    elif isinstance(value, list):
        for index, child in enumerate(value):
            path.append(index)
            _find_nul(child, path, found, base)
            path.pop()


def _check_subject(subject: Mapping[str, Any], errors: list[Problem], warnings: list[Problem]) -> None:
    code = subject["code"]
    if subject["kind"] == "natural_person":
        if subject.get("id_type", CITIZEN_ID) == CITIZEN_ID:
            result = check_citizen_id(code)
            errors += [Problem("/subject/code", p.code, p.message) for p in result.errors]
    else:
        result = check_uscc(code)
        errors += [Problem("/subject/code", p.code, p.message) for p in result.errors]
        warnings += [Problem("/subject/code", p.code, p.message) for p in result.warnings]


def _check_decision_date(
    submission: Mapping[str, Any], record_type: RecordType, today: date, errors: list[Problem]
) -> None:
    decided = date.fromisoformat(submission["decision_date"])
    if decided > today:
        errors.append(
            Problem(
                "/decision_date",
                "future_date",
                f"decision date {decided} is after today {today} (决定日期不能晚于今天)",
            )
        )
    own = submission["data"].get(record_type.decision_date_field) if isinstance(submission["data"], dict) else None
    if own is not None and own != submission["decision_date"]:
        errors.append(
            Problem(
                f"/data/{record_type.decision_date_field}",
                "decision_date_mismatch",
                f"{record_type.decision_date_field} is {own} but the envelope's decision_date is "
                f"{submission['decision_date']}; they must be equal",
            )
        )


def _check_subject_agrees(submission: Mapping[str, Any], record_type: RecordType, errors: list[Problem]) -> None:
    fields = record_type.subject_fields
    if fields is None:
        return
    subject, data = submission["subject"], submission["data"]
    expected_kind = SUBJECT_KIND_LABELS[subject["kind"]]

    def disagree(field: str | None, expected: str, what: str) -> None:
        if field is None:
            return
        actual = data.get(field)
        if actual != expected:
            errors.append(
                Problem(
                    f"/data/{field}",
                    "subject_mismatch",
                    f"{field} is {actual!r} but subject.{what} says {expected!r} (行政相对人信息与 subject 不一致)",
                )
            )

    disagree(fields.name, subject["name"], "name")
    disagree(fields.kind, expected_kind, "kind")
    if subject["kind"] == "natural_person":
        disagree(fields.id_number, subject["code"], "code")
        disagree(fields.id_type, subject.get("id_type", CITIZEN_ID), "id_type")
    else:
        disagree(fields.code, subject["code"], "code")


def _check_data_fields(
    data: Mapping[str, Any], record_type: RecordType, errors: list[Problem], warnings: list[Problem]
) -> None:
    for field in record_type.uscc_fields:
        for pointer, value in iter_field_values(data, field):
            if isinstance(value, str):
                result = check_uscc(value)
                errors += [Problem("/data" + pointer, p.code, p.message) for p in result.errors]
                warnings += [Problem("/data" + pointer, p.code, p.message) for p in result.warnings]
    for type_field, number_field in record_type.person_id_fields:
        # Pair each number with the type in the same object (array elements included).
        types = {_parent(ptr): value for ptr, value in iter_field_values(data, type_field)}
        for pointer, number in iter_field_values(data, number_field):
            if isinstance(number, str) and types.get(_parent(pointer), CITIZEN_ID) == CITIZEN_ID:
                result = check_citizen_id(number)
                errors += [Problem("/data" + pointer, p.code, p.message) for p in result.errors]
    for start_field, end_field in record_type.date_ranges:
        start, end = data.get(start_field), data.get(end_field)
        if isinstance(start, str) and isinstance(end, str) and end < start:
            errors.append(
                Problem(
                    f"/data/{end_field}",
                    "date_range_reversed",
                    f"{end_field} {end} is before {start_field} {start} (有效期至不能早于有效期自)",
                )
            )
    for field in record_type.amount_fields:
        amount = data.get(field)
        if isinstance(amount, int | float) and amount < 0:
            errors.append(Problem(f"/data/{field}", "negative_amount", f"{field} must not be negative (金额不能为负)"))


def _check_issue_15_rules(
    submission: Mapping[str, Any],
    record_type: RecordType,
    version: int,
    department: str,
    catalogue: Catalogue,
    errors: list[Problem],
    warnings: list[Problem],
) -> None:
    data, name = submission["data"], record_type.name
    errors += rules.confiscation_problems(name, version, data)
    errors += rules.licence_action_problems(name, version, data)
    errors += rules.birth_date_problems(submission["subject"], submission["decision_date"])
    warnings += rules.combined_confiscation_warning(name, version, data)
    warnings += rules.undocumented_adverse_warning(name, version, data)
    warnings += rules.authority_warning(record_type, data, catalogue.departments.get(department))


def _parent(pointer: str) -> str:
    return pointer.rsplit("/", 1)[0]
