"""`exchange catalogue check`: everything that must hold before a catalogue change is merged.

Beyond what :func:`~services.common.catalogue.load_catalogue` refuses (unknown departments or topics,
unclassed fields), this checks that every schema compiles, is Draft 2020-12, self-contained and closed
at every object level with a Chinese title and description on every property; that the examples in
``schemas/examples`` validate and agree with their envelope; that each new version of a type is
backward compatible with the previous one (or says why not); that the AsyncAPI file covers every
topic; and that the vocabulary module (`services/common/vocabulary.py`) names exactly the catalogue's
record types, the AsyncAPI document's event types and the verification outcomes of the record schemas.
Pure apart from reading files; :func:`main_check` is the CLI entry point.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Any

import jsonschema_rs

from services.common.calendar import WorkingDayCalendar
from services.common.catalogue import (
    Catalogue,
    CatalogueError,
    FieldClass,
    RecordType,
    iter_field_values,
    load_catalogue,
)
from services.common.identifiers import check_citizen_id, check_uscc
from services.common.vocabulary import (
    EVENT_TYPE_PREFIX,
    EventType,
    RecordTypeName,
    VerificationOutcome,
    members,
)
from services.common.yaml_files import YamlFileError, read_yaml

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID_BASE = "https://credit-exchange.example/schemas/"
OPEN_OBJECT_MARKER = "x-validated-in-code"
"""An object schema may stay open only when it says what validates its content in code."""
LAW_CHANGE_WORKING_DAYS = 15  # 000 L101
SUBJECT_KIND_LABELS = {
    "legal_person": "法人及非法人组织",
    "individual_business": "个体工商户",
    "natural_person": "自然人",
}
CITIZEN_ID = "身份证"
_CJK = re.compile(r"[\u4e00-\u9fff]")
_VISIBILITY = {FieldClass.PUBLIC: 0, FieldClass.MASKED: 1, FieldClass.SHARED: 2, FieldClass.RESTRICTED: 3}


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    severity: Severity
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity.upper()} {self.where}: {self.message}"


def check_catalogue(schemas_dir: Path) -> list[Problem]:
    """Every problem of the catalogue in `schemas_dir`; errors block a merge, warnings do not."""
    problems = [p for path in sorted(schemas_dir.glob("records/*/v*.json")) for p in _schema_file(schemas_dir, path)]
    try:
        catalogue = load_catalogue(schemas_dir)
    except CatalogueError as exc:
        return problems + [Problem(Severity.ERROR, where, message) for where, message in exc.problems]
    named = {v.schema_path for rt in catalogue.record_types.values() for v in rt.versions.values()}
    for path in sorted(schemas_dir.glob("records/*/v*.json")):
        if path.relative_to(schemas_dir).as_posix() not in named:
            problems.append(Problem(Severity.WARNING, path.relative_to(schemas_dir).as_posix(), "not in the catalogue"))
    owners: dict[str, str] = {}
    for department in catalogue.departments.values():
        codes = [("uscc", department.uscc)] + [(f"other_codes[{i}]", c) for i, c in enumerate(department.other_codes)]
        for key, code in codes:
            result = check_uscc(code)
            where = f"catalogue.yaml: departments.{department.code}.{key}"
            problems += [Problem(Severity.ERROR, where, p.message) for p in result.errors]
            problems += [Problem(Severity.WARNING, where, p.message) for p in result.warnings]
            if owners.setdefault(code, department.code) != department.code:
                problems.append(Problem(Severity.ERROR, where, f"{code} is already a code of {owners[code]}"))
    problems += _version_problems(catalogue, schemas_dir)
    problems += _example_problems(catalogue, schemas_dir)
    problems += _asyncapi_problems(catalogue, schemas_dir)
    problems += vocabulary_problems(catalogue, schemas_dir)
    return problems


def main_check(schemas_dir: Path) -> int:
    """Print the problems one per line and a summary; exit code 0 when there is no error."""
    problems = check_catalogue(schemas_dir)
    for problem in problems:
        print(problem)
    errors = sum(p.severity is Severity.ERROR for p in problems)
    if errors:
        print(f"catalogue has {errors} error(s)")
        return 1
    catalogue = load_catalogue(schemas_dir)
    versions = sum(len(rt.versions) for rt in catalogue.record_types.values())
    print(f"catalogue OK: {len(catalogue.record_types)} record types, {versions} versions")
    return 0


# --- schema files ---------------------------------------------------------------------------------------


def _schema_file(schemas_dir: Path, path: Path) -> list[Problem]:
    where = path.relative_to(schemas_dir).as_posix()
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [Problem(Severity.ERROR, where, f"cannot read: {exc}")]
    if not isinstance(schema, dict):
        return [Problem(Severity.ERROR, where, "must hold a JSON object")]
    problems = [Problem(Severity.ERROR, f"{where}: {p}", m) for p, m in schema_problems(schema)]
    if schema.get("$id") != SCHEMA_ID_BASE + where:
        problems.append(Problem(Severity.WARNING, f"{where}: /$id", f"expected {SCHEMA_ID_BASE + where}"))
    return problems


def schema_problems(schema: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(JSON pointer into the schema, message) for each rule a catalogue schema breaks."""
    problems: list[tuple[str, str]] = []
    if schema.get("$schema") != DRAFT_2020_12:
        problems.append(("/$schema", f"must be {DRAFT_2020_12}"))
    if schema.get("type") != "object":
        problems.append(("/type", "a record's data is an object"))
    try:
        jsonschema_rs.validator_for(dict(schema), validate_formats=True)
    except (jsonschema_rs.ValidationError, ValueError) as exc:
        problems.append(("", f"does not compile: {exc}"))
    problems += [(p, "no $ref: schemas are self-contained") for p in _pointers_of_key(schema, "$ref", "")]
    for pointer, sub in _object_schemas(schema, ""):
        closed = sub.get("additionalProperties") is False or sub.get("unevaluatedProperties") is False
        if not closed and OPEN_OBJECT_MARKER not in sub:
            problems.append((pointer, "object not closed: add additionalProperties: false"))
        properties = sub.get("properties", {})
        for name, prop in properties.items():
            for key in ("title", "description"):
                if not isinstance(prop, Mapping) or not _CJK.search(str(prop.get(key, ""))):
                    problems.append((f"{pointer}/properties/{name}", f"needs a Chinese {key}"))
        for name in sorted(_condition_names(sub) - set(properties)):
            problems.append((pointer, f"condition or dependency names unknown property {name!r}"))
    return problems


def _pointers_of_key(value: Any, key: str, pointer: str) -> Iterator[str]:
    if isinstance(value, Mapping):
        if key in value:
            yield f"{pointer}/{key}"
        for name, sub in value.items():
            yield from _pointers_of_key(sub, key, f"{pointer}/{name}")
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from _pointers_of_key(sub, key, f"{pointer}/{index}")


def _object_schemas(schema: Mapping[str, Any], pointer: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The structural object schemas: root, properties and items, recursively (not conditions)."""
    if schema.get("type") == "object" or "properties" in schema:
        yield pointer, schema
    for name, sub in schema.get("properties", {}).items():
        if isinstance(sub, Mapping):
            yield from _object_schemas(sub, f"{pointer}/properties/{name}")
    if isinstance(schema.get("items"), Mapping):
        yield from _object_schemas(schema["items"], f"{pointer}/items")


def _condition_names(schema: Mapping[str, Any]) -> set[str]:
    """Property names used by the conditions (allOf, if/then/else …) and dependencies of one level."""
    names: set[str] = set()
    for key, value in schema.get("dependentRequired", {}).items():
        names |= {key, *value}
    stack = [schema[k] for k in ("if", "then", "else", "not") if isinstance(schema.get(k), Mapping)]
    stack += [s for k in ("allOf", "anyOf", "oneOf") for s in schema.get(k, []) if isinstance(s, Mapping)]
    while stack:
        sub = stack.pop()
        names |= set(sub.get("required", [])) | set(sub.get("properties", {}))
        stack += [sub[k] for k in ("if", "then", "else", "not") if isinstance(sub.get(k), Mapping)]
        stack += [s for k in ("allOf", "anyOf", "oneOf") for s in sub.get(k, []) if isinstance(s, Mapping)]
    return names


# --- versions and compatibility -----------------------------------------------------------------------

_ANNOTATIONS = {"title", "description", "examples", "$comment", "default", "deprecated", "$id", "$schema"}
_UPPER_BOUNDS = ("maxLength", "maxItems", "maximum", "exclusiveMaximum", "maxProperties", "maxContains")
_LOWER_BOUNDS = ("minLength", "minItems", "minimum", "exclusiveMinimum", "minProperties", "minContains")
_STRUCTURE = {"type", "enum", "const", "pattern", "format", "uniqueItems", "required", "dependentRequired"}
_STRUCTURE |= {"properties", "additionalProperties", "unevaluatedProperties", "items", "allOf", OPEN_OBJECT_MARKER}
_UNDERSTOOD = _ANNOTATIONS | _STRUCTURE | set(_UPPER_BOUNDS) | set(_LOWER_BOUNDS)


def compatibility_problems(old: Mapping[str, Any], new: Mapping[str, Any], path: str = "") -> list[str]:
    """Why a document valid under `old` might be invalid under `new`; empty when provably compatible.

    Conservative: a change this function does not understand is reported, never assumed harmless.
    """
    found: list[str] = []

    def report(message: str) -> None:
        found.append(f"{path or '/'}: {message}")

    old_types, new_types = _types(old), _types(new)
    if new_types is not None and (old_types is None or not old_types <= new_types | _implied(new_types)):
        report(f"type narrowed from {sorted(old_types or ['any'])} to {sorted(new_types)}")
    if "enum" in new:
        old_values = old["enum"] if "enum" in old else [old["const"]] if "const" in old else None
        lost = "any value" if old_values is None else [v for v in old_values if v not in new["enum"]]
        if lost:
            report(f"enum narrowed: {lost} no longer allowed")
    for key in ("const", "pattern", "format"):
        if key in new and new[key] != old.get(key):
            report(f"{key} added or changed to {new[key]!r}")
    for key in _UPPER_BOUNDS:
        if key in new and (key not in old or new[key] < old[key]):
            report(f"{key} tightened to {new[key]} (was {old.get(key, 'unbounded')})")
    for key in _LOWER_BOUNDS:
        if key in new and (key not in old or new[key] > old[key]):
            report(f"{key} tightened to {new[key]} (was {old.get(key, 'unbounded')})")
    if new.get("uniqueItems") is True and old.get("uniqueItems") is not True:
        report("uniqueItems added")
    for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        report(f"new required property {name!r}")
    for key, names in new.get("dependentRequired", {}).items():
        for name in sorted(set(names) - set(old.get("dependentRequired", {}).get(key, []))):
            report(f"new dependency: {key!r} now requires {name!r}")
    old_closed, new_closed = _closed(old), _closed(new)
    if new_closed and not old_closed:
        report("schema closed: properties allowed before are now rejected")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, sub in old_props.items():
        if name in new_props:
            found += compatibility_problems(sub, new_props[name], f"{path}/properties/{name}")
        elif new_closed:
            report(f"property {name!r} removed from a closed schema")
    for name in sorted(set(new_props) - set(old_props)):
        if not old_closed:
            report(f"property {name!r} added to an open schema (earlier documents may hold any value)")
    for key in ("additionalProperties", "unevaluatedProperties"):
        if isinstance(new.get(key), Mapping) and old.get(key) is not False and new.get(key) != old.get(key):
            report(f"{key} schema added or changed")
    if isinstance(new.get("items"), Mapping):
        if isinstance(old.get("items"), Mapping):
            found += compatibility_problems(old["items"], new["items"], f"{path}/items")
        else:
            report("items constraint added")
    for entry in new.get("allOf", []):
        if entry not in old.get("allOf", []):
            label = entry.get("description", "") if isinstance(entry, Mapping) else ""
            report(f"allOf condition added or changed {label}".rstrip())
    for key in sorted((set(old) | set(new)) - _UNDERSTOOD):
        if key in new and new[key] != old.get(key):
            report(f"{key!r} added or changed; cannot prove it compatible")
    return found


def _types(schema: Mapping[str, Any]) -> set[str] | None:
    value = schema.get("type")
    return None if value is None else {value} if isinstance(value, str) else set(value)


def _implied(types: set[str]) -> set[str]:
    return {"integer"} if "number" in types else set()


def _closed(schema: Mapping[str, Any]) -> bool:
    return schema.get("additionalProperties") is False or schema.get("unevaluatedProperties") is False


def _version_problems(catalogue: Catalogue, schemas_dir: Path) -> list[Problem]:
    problems: list[Problem] = []
    for rt in catalogue.record_types.values():
        ordered = sorted(rt.versions.values(), key=lambda v: v.version)
        for old, new in pairwise(ordered):
            where = f"catalogue.yaml: record_types.{rt.name} v{new.version}"
            if new.effective_from < old.effective_from:
                problems.append(Problem(Severity.ERROR, where, f"takes effect before v{old.version}"))
            issues = compatibility_problems(old.schema, new.schema)
            if issues and new.breaking_change_reason is None:
                problems += [
                    Problem(
                        Severity.ERROR,
                        where,
                        f"incompatible with v{old.version} ({issue}); "
                        "make it compatible or give breaking_change_reason",
                    )
                    for issue in issues
                ]
            for field, cls in new.field_classes.items():
                before = old.field_classes.get(field)
                if before is not None and _VISIBILITY[cls] < _VISIBILITY[before]:
                    problems.append(Problem(Severity.WARNING, where, f"{field} becomes more visible: {before} → {cls}"))
        problems += _law_change_delays(rt, schemas_dir)
    return problems


def _law_change_delays(rt: RecordType, schemas_dir: Path) -> list[Problem]:
    """A version answering a law change should take effect within 15 working days (000 L101)."""
    triggered = [v for v in rt.versions.values() if v.law_change_trigger is not None]
    if not triggered:
        return []
    overrides = schemas_dir / "calendar" / "overrides.yaml"
    calendar = WorkingDayCalendar.load(overrides if overrides.exists() else None)
    problems = []
    for v in triggered:
        assert v.law_change_trigger is not None
        due = calendar.add_working_days(v.law_change_trigger, LAW_CHANGE_WORKING_DAYS)
        if v.effective_from > due.date:
            problems.append(
                Problem(
                    Severity.WARNING,
                    f"catalogue.yaml: record_types.{rt.name} v{v.version}",
                    f"takes effect {v.effective_from}, after {due.date}: 15 working days from the law change "
                    f"of {v.law_change_trigger} (000 L101)",
                )
            )
    return problems


# --- examples ---------------------------------------------------------------------------------------------


def _example_problems(catalogue: Catalogue, schemas_dir: Path) -> list[Problem]:
    """Each type's examples validate, agree with their envelope and use valid identifiers."""
    examples_dir, problems = schemas_dir / "examples", []
    try:
        envelope_schema = json.loads((schemas_dir / "envelope.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [Problem(Severity.ERROR, "envelope.json", f"cannot read, so no example can be checked: {exc}")]
    envelope = jsonschema_rs.validator_for(envelope_schema, validate_formats=True)
    validators = {
        (rt.name, v.version): jsonschema_rs.validator_for(dict(v.schema), validate_formats=True)
        for rt in catalogue.record_types.values()
        for v in rt.versions.values()
    }
    found: list[tuple[str, RecordType, Any]] = []
    for path in sorted(examples_dir.glob("*.json")):
        if path.stem not in catalogue.record_types:
            problems.append(Problem(Severity.WARNING, f"examples/{path.name}", "names no record type"))
    for rt in catalogue.record_types.values():
        where = f"examples/{rt.name}.json"
        try:
            items = json.loads((examples_dir / f"{rt.name}.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            problems.append(Problem(Severity.WARNING, where, "no examples for this record type"))
            continue
        except (OSError, ValueError) as exc:
            problems.append(Problem(Severity.ERROR, where, f"cannot read: {exc}"))
            continue
        if not isinstance(items, list) or not items:
            problems.append(Problem(Severity.ERROR, where, "must be a non-empty JSON list of submissions"))
            continue
        found += [(f"{where}[{index}]", rt, item) for index, item in enumerate(items)]
    by_id = {item["id"]: (rt, item) for _, rt, item in found if isinstance(item, dict) and "id" in item}
    for where, rt, item in found:
        errors = list(_schema_errors(envelope, item, ""))
        if errors:
            problems += [Problem(Severity.ERROR, f"{where}: {p or '/'}", m) for p, m in errors]
            continue
        problems += [Problem(s, f"{where}: {p}", m) for s, p, m in _submission(catalogue, rt, item, validators, by_id)]
    return problems


def _schema_errors(validator: Any, instance: Any, base: str) -> Iterator[tuple[str, str]]:
    for error in validator.iter_errors(instance):
        parts = [str(part) for part in error.instance_path]
        if type(error.kind).__name__ == "Required":
            parts.append(error.kind.property)
        yield base + "".join(f"/{part}" for part in parts), error.message


def _submission(
    catalogue: Catalogue,
    rt: RecordType,
    item: Mapping[str, Any],
    validators: Mapping[tuple[str, int], Any],
    by_id: Mapping[str, tuple[RecordType, Any]],
) -> Iterator[tuple[Severity, str, str]]:
    error = Severity.ERROR
    if item["type"] != rt.name:
        yield error, "/type", f"{item['type']!r} in the examples file of {rt.name}"
    validator = validators.get((rt.name, item["version"]))
    if validator is None:
        yield error, "/version", f"{rt.name} has no version {item['version']}"
        return
    data, subject = item["data"], item["subject"]
    schema_errors = list(_schema_errors(validator, data, "/data"))
    yield from ((error, p, m) for p, m in schema_errors)
    if schema_errors:
        return
    department = item["id"].split("-")[0]
    if department in catalogue.departments and department not in rt.departments:
        yield error, "/id", f"{department} may not report {rt.name} (权责清单)"
    if data.get(rt.decision_date_field) != item["decision_date"]:
        yield error, f"/data/{rt.decision_date_field}", f"must equal decision_date {item['decision_date']}"
    yield from _subject_agrees(rt, subject, data)
    yield from _identifier_problems(rt, subject, data)
    for start, end in rt.date_ranges:
        if isinstance(data.get(start), str) and isinstance(data.get(end), str) and data[end] < data[start]:
            yield error, f"/data/{end}", f"{data[end]} is before {start} {data[start]}"
    target = by_id.get(data.get("target_record_id", ""))
    if "corrected_data" in data and target is not None:
        target_rt, target_item = target
        corrected = validators[(target_rt.name, target_item["version"])]
        yield from ((error, p, m) for p, m in _schema_errors(corrected, data["corrected_data"], "/data/corrected_data"))


def _identifier_problems(
    rt: RecordType, subject: Mapping[str, Any], data: Mapping[str, Any]
) -> Iterator[tuple[Severity, str, str]]:
    """USCC and citizen-ID check characters of the subject and of the type's code fields (DOMAIN §2)."""
    codes: list[tuple[str, Any, bool]] = []  # (pointer, value, is a USCC)
    if subject["kind"] != "natural_person":
        codes.append(("/subject/code", subject["code"], True))
    elif subject.get("id_type", CITIZEN_ID) == CITIZEN_ID:
        codes.append(("/subject/code", subject["code"], False))
    codes += [(f"/data{p}", v, True) for f in rt.uscc_fields for p, v in iter_field_values(data, f)]
    for type_field, number_field in rt.person_id_fields:
        kinds = dict(iter_field_values(data, type_field))
        type_key = type_field.rsplit(".", 1)[-1]
        for pointer, number in iter_field_values(data, number_field):
            if kinds.get(pointer.rsplit("/", 1)[0] + "/" + type_key) == CITIZEN_ID:
                codes.append((f"/data{pointer}", number, False))
    for pointer, value, is_uscc in codes:
        if isinstance(value, str):
            result = check_uscc(value) if is_uscc else check_citizen_id(value)
            yield from ((Severity.ERROR, pointer, p.message) for p in result.errors)
            yield from ((Severity.WARNING, pointer, p.message) for p in result.warnings)


def _subject_agrees(
    rt: RecordType, subject: Mapping[str, Any], data: Mapping[str, Any]
) -> Iterator[tuple[Severity, str, str]]:
    fields = rt.subject_fields
    if fields is None:
        return
    person = subject["kind"] == "natural_person"
    expected: list[tuple[str | None, Any]] = [(fields.name, subject["name"])]
    expected.append((fields.kind, SUBJECT_KIND_LABELS[subject["kind"]]))
    if person:
        expected += [(fields.id_number, subject["code"]), (fields.id_type, subject.get("id_type", CITIZEN_ID))]
    else:
        expected.append((fields.code, subject["code"]))
    for field, value in expected:
        if field is not None and data.get(field) != value:
            yield Severity.ERROR, f"/data/{field}", f"is {data.get(field)!r} but the envelope subject says {value!r}"


# --- AsyncAPI ---------------------------------------------------------------------------------------------


def _asyncapi_problems(catalogue: Catalogue, schemas_dir: Path) -> list[Problem]:
    """Every topic has a channel (default prefix) and every schema version is referenced."""
    path = schemas_dir / "asyncapi.yaml"
    try:
        document = read_yaml(path)
    except YamlFileError as exc:
        return [Problem(Severity.WARNING, "asyncapi.yaml", str(exc).removeprefix(f"{path}: "))]
    text = path.read_text(encoding="utf-8")
    channels = document.get("channels", {}) if isinstance(document, dict) else {}
    addresses = {c.get("address") for c in channels.values() if isinstance(c, dict)}
    problems = [
        Problem(Severity.WARNING, "asyncapi.yaml", f"no channel with address exchange.{name}")
        for name in catalogue.topics
        if f"exchange.{name}" not in addresses
    ]
    problems += [
        Problem(Severity.WARNING, "asyncapi.yaml", f"{v.schema_path} is not referenced by any message")
        for rt in catalogue.record_types.values()
        for v in rt.versions.values()
        if v.schema_path not in text
    ]
    return problems


# --- the vocabulary ---------------------------------------------------------------------------------------


def asyncapi_event_types(document: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """(record types, outcome event types) the AsyncAPI document's messages declare. A message named
    `cn.credit.<area>.<event>` lists its types in `x-ce-types`; a record message is named
    `cn.credit.record.<type>.v<version>`."""
    records: set[str] = set()
    events: set[str] = set()
    messages = (document.get("components") or {}).get("messages") or {}
    for message in messages.values():
        name = str(message.get("name", ""))
        if name.startswith(f"{EVENT_TYPE_PREFIX}record."):
            records.add(name.removeprefix(f"{EVENT_TYPE_PREFIX}record.").rsplit(".v", 1)[0])
        elif name.endswith(".<event>"):
            events.update(str(t) for t in message.get("x-ce-types") or ())
        elif name.startswith(EVENT_TYPE_PREFIX):
            events.add(name)
    return records, events


def _difference(where: str, what: str, code: set[str], declared: set[str], place: str) -> list[Problem]:
    out = [
        Problem(Severity.ERROR, where, f"{what} {name!r} is in services/common/vocabulary.py but not in {place}")
        for name in sorted(code - declared)
    ]
    out += [
        Problem(Severity.ERROR, where, f"{what} {name!r} is in {place} but not in services/common/vocabulary.py")
        for name in sorted(declared - code)
    ]
    return out


def vocabulary_problems(catalogue: Catalogue, schemas_dir: Path) -> list[Problem]:
    """The vocabulary module against the catalogue's record types, the AsyncAPI document's record and event
    types, and the `outcome` enum of every objection_verification schema version."""
    record_types = set(members(RecordTypeName))
    problems = _difference(
        "catalogue.yaml: record_types", "record type", record_types, set(catalogue.record_types), "the catalogue"
    )
    try:
        document = read_yaml(schemas_dir / "asyncapi.yaml")
    except YamlFileError:
        document = None  # _asyncapi_problems reports it
    if isinstance(document, dict):
        records, events = asyncapi_event_types(document)
        problems += _difference("asyncapi.yaml", "record type", record_types, records, "the AsyncAPI messages")
        problems += _difference(
            "asyncapi.yaml", "event type", set(members(EventType)), events, "the AsyncAPI messages (x-ce-types)"
        )
    verification = catalogue.record_types.get(RecordTypeName.OBJECTION_VERIFICATION)
    for version in verification.versions.values() if verification else ():
        path = schemas_dir / version.schema_path
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # _schema_file reports it
        declared = {str(v) for v in schema.get("properties", {}).get("outcome", {}).get("enum", ())}
        problems += _difference(
            version.schema_path, "verification outcome", set(members(VerificationOutcome)), declared, "the schema"
        )
    return problems
