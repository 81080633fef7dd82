"""The reporting catalogue (信用信息目录, DOMAIN §3): `schemas/catalogue.yaml` and the schemas it names.

Nothing is recorded, shared or published unless the catalogue names it, so services load it at start
(:func:`load_catalogue`, in the lifespan or ``main()``, never at import) and refuse to run on a
catalogue that is inconsistent: every problem found is collected into one :class:`CatalogueError`.
Deeper checks (schemas compile and are closed, examples validate, versions stay compatible) live in
:mod:`services.common.catalogue_check`, run by ``exchange catalogue check``.

Field paths. Each version classes every leaf property of its schema (DOMAIN §8). A nested field is
named by a dotted path, ``[]`` marking an array of objects: ``informant.name`` (object),
``related_persons[].id_number`` (array of objects). An array of scalars (``CF_CFLB``) is one field.
:func:`schema_field_paths` lists the paths of a schema; :func:`iter_field_values` finds the values of
a path in a record's data together with their JSON pointers. The same paths are used in
``person_id_fields`` (and may be used in ``uscc_fields`` and ``amount_fields``).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

__all__ = [
    "Catalogue",
    "CatalogueError",
    "Department",
    "FieldClass",
    "RecordType",
    "SubjectFields",
    "Topic",
    "TopicKind",
    "TypeVersion",
    "default_schemas_dir",
    "iter_field_values",
    "load_catalogue",
    "schema_field_paths",
]

CATALOGUE_FILE = "catalogue.yaml"
_TYPE_KEYS = frozenset(
    {"title", "topic", "disclosure", "departments", "decision_date_field", "authority_field", "subject_fields"}
    | {"amount_fields", "date_ranges", "uscc_fields", "person_id_fields", "versions"}
)
_VERSION_KEYS = frozenset(
    {"version", "effective_from", "law_change_trigger", "schema", "fields", "breaking_change_reason"}
)


class FieldClass(StrEnum):
    """DOMAIN §8: who may see a field."""

    PUBLIC = "public"
    MASKED = "masked"  # published masked: ID number 110105********002X, a person's name 张*
    SHARED = "shared"  # departments only, never public
    RESTRICTED = "restricted"  # named roles only (e.g. whistleblower identity)


class TopicKind(StrEnum):
    RECORD = "record"
    OUTCOME = "outcome"
    AUDIT = "audit"


class CatalogueError(ValueError):
    """The catalogue cannot be used; ``problems`` holds every (where, message) found."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid catalogue: " + "; ".join(f"{where}: {message}" for where, message in problems))


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name: str
    uscc: str
    other_codes: tuple[str, ...] = ()
    """Further 机关 USCCs that decide in the department's name (its sub-offices, e.g. 市场监管所)."""

    @property
    def codes(self) -> frozenset[str]:
        """Every code a record of this department may name as its deciding authority."""
        return frozenset({self.uscc, *self.other_codes})


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    """Logical name (`records.acts`); the Kafka topic is the configured prefix + name."""
    kind: TopicKind
    description: str


@dataclass(frozen=True, slots=True)
class SubjectFields:
    """The data fields that repeat the envelope's subject (行政相对人); they must agree with it."""

    name: str
    kind: str
    code: str | None
    id_type: str | None
    id_number: str | None


@dataclass(frozen=True, slots=True)
class TypeVersion:
    record_type: str
    version: int
    effective_from: date
    law_change_trigger: date | None
    schema: Mapping[str, Any]
    """The parsed JSON Schema of the record's `data`; treat as read-only."""
    schema_path: str
    """Relative to the schemas directory, e.g. `records/administrative_penalty/v1.json`."""
    field_classes: Mapping[str, FieldClass]
    breaking_change_reason: str | None = None


@dataclass(frozen=True, slots=True)
class RecordType:
    name: str
    title: str
    topic: str
    disclosure: bool
    departments: frozenset[str]
    decision_date_field: str
    authority_field: str | None
    """The field holding the deciding (or accepting, registering …) authority's USCC; ingest warns when it
    is not one of the reporting department's codes. None for types that name no authority."""
    subject_fields: SubjectFields | None
    amount_fields: tuple[str, ...]
    date_ranges: tuple[tuple[str, str], ...]
    uscc_fields: tuple[str, ...]
    person_id_fields: tuple[tuple[str, str], ...]
    versions: Mapping[int, TypeVersion]

    def version_in_force(self, version: int, on: date) -> TypeVersion | None:
        """The version if it exists and has taken effect on `on` (effective_from <= on)."""
        found = self.versions.get(version)
        return found if found is not None and found.effective_from <= on else None


@dataclass(frozen=True, slots=True)
class Catalogue:
    version: str
    owner: str
    departments: Mapping[str, Department]
    topics: Mapping[str, Topic]
    record_types: Mapping[str, RecordType]

    def public_view(self) -> dict[str, Any]:
        """What `GET /v1/catalogue` returns: plain JSON types only (dates as ISO strings)."""
        return {
            "catalogue_version": self.version,
            "owner": self.owner,
            "departments": {
                d.code: {"name": d.name, "uscc": d.uscc, "other_codes": list(d.other_codes)}
                for d in self.departments.values()
            },
            "topics": {t.name: {"kind": str(t.kind), "description": t.description} for t in self.topics.values()},
            "record_types": {rt.name: _type_view(rt) for rt in self.record_types.values()},
        }


def _type_view(rt: RecordType) -> dict[str, Any]:
    subject = rt.subject_fields
    return {
        "title": rt.title,
        "topic": rt.topic,
        "disclosure": rt.disclosure,
        "departments": sorted(rt.departments),
        "decision_date_field": rt.decision_date_field,
        "authority_field": rt.authority_field,
        "subject_fields": None if subject is None else _subject_view(subject),
        "amount_fields": list(rt.amount_fields),
        "date_ranges": [list(pair) for pair in rt.date_ranges],
        "uscc_fields": list(rt.uscc_fields),
        "person_id_fields": [list(pair) for pair in rt.person_id_fields],
        "versions": [
            {
                "version": v.version,
                "effective_from": v.effective_from.isoformat(),
                "law_change_trigger": None if v.law_change_trigger is None else v.law_change_trigger.isoformat(),
                "schema": copy.deepcopy(dict(v.schema)),
                "fields": {path: str(cls) for path, cls in v.field_classes.items()},
            }
            for v in sorted(rt.versions.values(), key=lambda v: v.version)
        ],
    }


def _subject_view(subject: SubjectFields) -> dict[str, str | None]:
    fields = ("name", "kind", "code", "id_type", "id_number")
    return {name: getattr(subject, name) for name in fields}


def default_schemas_dir() -> Path:
    """`<repo>/schemas`, or the directory named by the environment variable EXCHANGE_SCHEMAS_DIR."""
    configured = os.environ.get("EXCHANGE_SCHEMAS_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "schemas"


def schema_field_paths(schema: Mapping[str, Any], prefix: str = "") -> tuple[str, ...]:
    """Leaf field paths of a schema's `properties` (see the module docstring for the convention)."""
    paths: list[str] = []
    properties = schema.get("properties")
    for name, sub in (properties if isinstance(properties, Mapping) else {}).items():
        if not isinstance(sub, Mapping):
            paths.append(prefix + name)
        elif isinstance(sub.get("properties"), Mapping):
            paths.extend(schema_field_paths(sub, f"{prefix}{name}."))
        elif isinstance(sub.get("items"), Mapping) and isinstance(sub["items"].get("properties"), Mapping):
            paths.extend(schema_field_paths(sub["items"], f"{prefix}{name}[]."))
        else:
            paths.append(prefix + name)
    return tuple(paths)


def iter_field_values(data: Any, path: str, pointer: str = "") -> Iterator[tuple[str, Any]]:
    """(JSON pointer relative to `data`, value) for every value present at `path`.

    `iter_field_values(d, "related_persons[].id_number")` yields ("/related_persons/0/id_number", …).
    Absent values and values of the wrong shape are skipped (the schema reports those).
    """
    head, _, rest = path.partition(".")
    many = head.endswith("[]")
    key = head.removesuffix("[]")
    if not isinstance(data, Mapping) or key not in data:
        return
    value, here = data[key], f"{pointer}/{key}"
    targets = list(enumerate(value)) if many and isinstance(value, list) else [] if many else [(None, value)]
    for index, item in targets:
        at = here if index is None else f"{here}/{index}"
        if rest:
            yield from iter_field_values(item, rest, at)
        else:
            yield at, item


def load_catalogue(schemas_dir: Path) -> Catalogue:
    """Read `<schemas_dir>/catalogue.yaml` and every schema it names.

    Raises :class:`CatalogueError` listing every problem (each naming its file and key); OSError is
    wrapped too, so a missing file reads as a catalogue problem.
    """
    return _Parser(schemas_dir).parse()


def _duplicate_keys(node: yaml.Node | None, path: str) -> Iterator[tuple[str, int]]:
    """(dotted path, line) of every repeated key: a repeated field class must not pass unnoticed."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                yield path + name, key.start_mark.line + 1
            seen.add(name)
            yield from _duplicate_keys(value, f"{path}{name}.")
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, f"{path.removesuffix('.')}[{index}].")


@dataclass
class _Parser:
    schemas_dir: Path
    problems: list[tuple[str, str]] = field(default_factory=list)

    def fail(self, where: str, message: str) -> None:
        self.problems.append((f"{CATALOGUE_FILE}: {where}" if where else CATALOGUE_FILE, message))

    def parse(self) -> Catalogue:
        try:
            text = (self.schemas_dir / CATALOGUE_FILE).read_text(encoding="utf-8")
            for where, line in _duplicate_keys(yaml.compose(text, Loader=yaml.SafeLoader), ""):
                self.fail(where, f"duplicate key (line {line}): YAML would silently keep only the last one")
            document = yaml.safe_load(text)
        except (OSError, yaml.YAMLError) as exc:
            raise CatalogueError([(str(self.schemas_dir / CATALOGUE_FILE), f"cannot read: {exc}")]) from exc
        top = self.mapping(document, "")
        departments = {}
        for code, raw in self.mapping(top.get("departments"), "departments").items():
            where = f"departments.{code}"
            entry = self.mapping(raw, where)
            for key in sorted(set(entry) - {"name", "uscc", "other_codes"}):
                self.fail(f"{where}.{key}", "unknown key (allowed: name, uscc, other_codes)")
            others = (
                self.strings(entry.get("other_codes", []), f"{where}.other_codes") if "other_codes" in entry else ()
            )
            departments[code] = Department(
                code, self.text(entry, where, "name"), self.text(entry, where, "uscc"), others
            )
        topics = {}
        for name, raw in self.mapping(top.get("topics"), "topics").items():
            t = self.mapping(raw, f"topics.{name}")
            kind = self.text(t, f"topics.{name}", "kind")
            if kind not in set(TopicKind):
                self.fail(f"topics.{name}.kind", f"must be one of {[str(k) for k in TopicKind]}, got {kind!r}")
            else:
                topics[name] = Topic(name, TopicKind(kind), self.text(t, f"topics.{name}", "description"))
        version, owner = self.text(top, "", "catalogue_version"), self.text(top, "", "owner")
        if owner and owner not in departments:
            self.fail("owner", f"unknown department {owner!r}")
        types = {}
        for name, entry in self.mapping(top.get("record_types"), "record_types").items():
            parsed = self.record_type(str(name), self.mapping(entry, f"record_types.{name}"), departments, topics)
            if parsed is not None:
                types[name] = parsed
        if self.problems:
            raise CatalogueError(self.problems)
        return Catalogue(
            version, owner, MappingProxyType(departments), MappingProxyType(topics), MappingProxyType(types)
        )

    def record_type(
        self, name: str, entry: Mapping[str, Any], departments: Mapping[str, Department], topics: Mapping[str, Topic]
    ) -> RecordType | None:
        where = f"record_types.{name}"
        for key in sorted(set(entry) - _TYPE_KEYS):
            self.fail(f"{where}.{key}", f"unknown key (allowed: {', '.join(sorted(_TYPE_KEYS))})")
        topic = self.text(entry, where, "topic")
        if topic and topic not in topics:
            self.fail(f"{where}.topic", f"unknown topic {topic!r}")
        elif topic and topics[topic].kind != TopicKind.RECORD:
            self.fail(f"{where}.topic", f"{topic!r} is an {topics[topic].kind} topic; records go to record topics")
        allowed = self.strings(entry.get("departments"), f"{where}.departments")
        for code in allowed:
            if code not in departments:
                self.fail(f"{where}.departments", f"unknown department {code!r} (known: {', '.join(departments)})")
        if not allowed:
            self.fail(f"{where}.departments", "at least one department must be allowed to report the type")
        if not isinstance(entry.get("disclosure"), bool):
            self.fail(f"{where}.disclosure", "must be true or false")
        subject = self.subject_fields(entry.get("subject_fields"), f"{where}.subject_fields")
        rt = RecordType(
            name=name,
            title=self.text(entry, where, "title"),
            topic=topic,
            disclosure=entry.get("disclosure") is True,
            departments=frozenset(allowed),
            decision_date_field=self.text(entry, where, "decision_date_field"),
            authority_field=self.text(entry, where, "authority_field") if "authority_field" in entry else None,
            subject_fields=subject,
            amount_fields=self.strings(entry.get("amount_fields", []), f"{where}.amount_fields"),
            date_ranges=self.pairs(entry.get("date_ranges", []), f"{where}.date_ranges"),
            uscc_fields=self.strings(entry.get("uscc_fields", []), f"{where}.uscc_fields"),
            person_id_fields=self.pairs(entry.get("person_id_fields", []), f"{where}.person_id_fields"),
            versions=MappingProxyType({}),
        )
        versions: dict[int, TypeVersion] = {}
        raw_versions = entry.get("versions")
        if not isinstance(raw_versions, list) or not raw_versions:
            self.fail(f"{where}.versions", "must be a non-empty list")
            return None
        for index, raw in enumerate(raw_versions):
            parsed = self.version(rt, self.mapping(raw, f"{where}.versions[{index}]"), f"{where}.versions[{index}]")
            if parsed is not None and parsed.version in versions:
                self.fail(f"{where}.versions[{index}].version", f"version {parsed.version} is listed twice")
            elif parsed is not None:
                versions[parsed.version] = parsed
        return replace(rt, versions=MappingProxyType(versions))

    def version(self, rt: RecordType, raw: Mapping[str, Any], where: str) -> TypeVersion | None:
        for key in sorted(set(raw) - _VERSION_KEYS):
            self.fail(f"{where}.{key}", f"unknown key (allowed: {', '.join(sorted(_VERSION_KEYS))})")
        number, effective = raw.get("version"), self.date(raw.get("effective_from"), f"{where}.effective_from")
        trigger_value = raw.get("law_change_trigger")
        trigger = None if trigger_value is None else self.date(trigger_value, f"{where}.law_change_trigger")
        schema_path = self.text(raw, where, "schema")
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            self.fail(f"{where}.version", f"must be an integer >= 1, got {number!r}")
            return None
        schema = self.schema(schema_path, f"{where}.schema")
        classes: dict[str, FieldClass] = {}
        for path, cls in self.mapping(raw.get("fields"), f"{where}.fields").items():
            if not isinstance(cls, str) or cls not in set(FieldClass):
                self.fail(f"{where}.fields.{path}", f"class must be one of {[str(c) for c in FieldClass]}, got {cls!r}")
            else:
                classes[str(path)] = FieldClass(cls)
        reason = raw.get("breaking_change_reason")
        if schema is None or effective is None:
            return None
        self.fields_agree(rt, schema, classes, where)
        return TypeVersion(
            rt.name,
            number,
            effective,
            trigger,
            schema,
            schema_path,
            MappingProxyType(classes),
            reason if isinstance(reason, str) else None,
        )

    def fields_agree(
        self, rt: RecordType, schema: Mapping[str, Any], classes: Mapping[str, FieldClass], where: str
    ) -> None:
        """Every schema field is classed, every classed or named field exists in the schema."""
        paths = set(schema_field_paths(schema))
        for path in sorted(paths - set(classes)):
            self.fail(f"{where}.fields", f"schema field {path!r} has no class (DOMAIN §8: every field is classed)")
        for path in sorted(set(classes) - paths):
            self.fail(f"{where}.fields.{path}", "classed field does not exist in the schema")
        subject = rt.subject_fields
        named = [
            rt.decision_date_field,
            *rt.amount_fields,
            *rt.uscc_fields,
            *([rt.authority_field] if rt.authority_field else []),
        ]
        named += [f for pair in (*rt.date_ranges, *rt.person_id_fields) for f in pair]
        named += [] if subject is None else [f for f in (subject.name, subject.kind, subject.code) if f]
        named += [] if subject is None else [f for f in (subject.id_type, subject.id_number) if f]
        for path in named:
            if path and path not in paths:
                self.fail(f"record_types.{rt.name}", f"field {path!r} is named but not in {where}'s schema")
        if rt.authority_field and rt.authority_field not in rt.uscc_fields:
            self.fail(f"record_types.{rt.name}.authority_field", "must be one of uscc_fields (its check character)")
        required = schema.get("required", [])
        if rt.decision_date_field in paths and rt.decision_date_field not in required:
            self.fail(f"record_types.{rt.name}.decision_date_field", f"{rt.decision_date_field!r} must be required")

    def schema(self, relative: str, where: str) -> dict[str, Any] | None:
        path = (self.schemas_dir / relative).resolve()
        if not relative or not path.is_relative_to(self.schemas_dir.resolve()):
            self.fail(where, f"schema path {relative!r} must lie inside the schemas directory")
            return None
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            self.fail(where, f"cannot read {relative}: {exc}")
            return None
        if not isinstance(loaded, dict):
            self.fail(where, f"{relative} must hold a JSON object")
            return None
        return loaded

    def subject_fields(self, raw: Any, where: str) -> SubjectFields | None:
        if raw is None:
            return None
        entry = self.mapping(raw, where)
        for key in sorted(set(entry) - {"name", "kind", "code", "id_type", "id_number"}):
            self.fail(f"{where}.{key}", "unknown key (allowed: name, kind, code, id_type, id_number)")
        optional = {key: entry.get(key) for key in ("code", "id_type", "id_number")}
        for key, value in optional.items():
            if value is not None and not isinstance(value, str):
                self.fail(f"{where}.{key}", "must be a field name or null")
        name, kind = self.text(entry, where, "name"), self.text(entry, where, "kind")
        code, id_type, id_number = (v if isinstance(v, str) else None for v in optional.values())
        return SubjectFields(name, kind, code, id_type, id_number)

    def mapping(self, value: Any, where: str) -> Mapping[str, Any]:
        if isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
            return value
        self.fail(where, "must be a mapping with string keys")
        return {}

    def text(self, entry: Mapping[str, Any], where: str, key: str) -> str:
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            return value
        self.fail(f"{where}.{key}" if where else key, f"must be a non-empty string, got {value!r}")
        return ""

    def strings(self, value: Any, where: str) -> tuple[str, ...]:
        if isinstance(value, list) and all(isinstance(item, str) and item for item in value):
            return tuple(value)
        self.fail(where, "must be a list of field names")
        return ()

    def pairs(self, value: Any, where: str) -> tuple[tuple[str, str], ...]:
        ok = isinstance(value, list) and all(
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(f, str) and f for f in pair) for pair in value
        )
        if not ok:
            self.fail(where, "must be a list of [field, field] pairs")
            return ()
        return tuple((pair[0], pair[1]) for pair in value)

    def date(self, value: Any, where: str) -> date | None:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        try:
            return date.fromisoformat(value)
        except (TypeError, ValueError):
            self.fail(where, f"must be a date YYYY-MM-DD, got {value!r}")
            return None
