"""The measure list (失信惩戒措施清单) and reward measures, DOMAIN §6: `schemas/measures.yaml` as frozen data.

Only measures on this list may ever be applied (001 L656-L657, L669), so the service loads it at start
(:func:`load_measure_list`, never at import) and refuses a list with any problem: every problem found is
collected into one :class:`MeasureListError`, each naming the file and the measure. Department codes are
checked against the catalogue's departments, matters against the list's own vocabulary. This is the only
module of the rules package that reads a file.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from services.common.yaml_files import YamlFileError, read_yaml

MEASURES_FILE = "measures.yaml"
SUBJECT_KINDS = ("legal_person", "individual_business", "natural_person")
RELATED_PERSON_ROLES = ("法定代表人", "主要负责人", "实际控制人", "其他直接责任人员")
RECORD_TRIGGERS = ("serious_untrustworthy_listing", "judgment_defaulter_listing", "red_list")
DERIVED_TRIGGERS = ("clean_record_3y",)  # 连续三年无不良信用记录 (001 L360): rules/clean_record.py
GRADE_TRIGGER = re.compile(r"^grade:(?P<rule_set>[a-z0-9][a-z0-9-]*):(?P<grade>[A-D])$")
EVALUATION_TRIGGER = re.compile(r"^evaluation:(?P<scale>[^:\s]+):(?P<grade>[^:\s]+)(?::(?P<years>[1-9][0-9]?)y)?$")
"""A department's or industry's credit evaluation in force (scale and grade as the evaluation record names
them); with `:<N>y`, the same grade in N consecutive evaluation years (N ≥ 2). Computed when asked."""
CONDITION_FACTS: Mapping[str, type] = MappingProxyType(
    {"able_but_refusing": bool, "causes_serious_social_impact": bool, "category": str}
)
_ID = re.compile(r"^[MR]-[A-Z0-9]+-[A-Z]+-\d{2}$")
_MATTER = re.compile(r"^[a-z][a-z0-9_]*$")
_TOP_KEYS = frozenset({"version", "effective_from", "matters", "sanctions", "rewards"})
_KEYS = frozenset(
    {"id", "name", "category", "kind", "effect", "legal_basis", "term", "matters", "implementing_departments"}
    | {"triggers", "subject_kinds", "related_person_roles", "conditions", "instructed"}
)

ConditionValue = bool | str
_E = TypeVar("_E", bound=StrEnum)


class Nature(StrEnum):
    SANCTION = "sanction"
    REWARD = "reward"


class Category(StrEnum):
    """001 L367-L370."""

    ADMINISTRATIVE = "administrative"
    MARKET = "market"
    INDUSTRY = "industry"
    SOCIAL = "social"


class Kind(StrEnum):
    """001 L378: 强制性 (依法必须联合执行) / 推荐性 (可根据实际情况实施)."""

    MANDATORY = "mandatory"
    RECOMMENDED = "recommended"


class Effect(StrEnum):
    PROHIBIT = "prohibit"
    RESTRICT = "restrict"
    STRICT_REVIEW = "strict_review"  # 从严审核
    PRUDENTIAL_REFERENCE = "prudential_reference"  # 审慎性参考
    FACILITATE = "facilitate"  # rewards: 绿色通道, 容缺受理 …
    PRIORITY = "priority"  # rewards: 优先, 倾斜, 加分


SANCTION_EFFECTS = frozenset({Effect.PROHIBIT, Effect.RESTRICT, Effect.STRICT_REVIEW, Effect.PRUDENTIAL_REFERENCE})
REWARD_EFFECTS = frozenset({Effect.FACILITATE, Effect.PRIORITY})
RESTRICTING_EFFECTS = frozenset({Effect.PROHIBIT, Effect.RESTRICT})


class MeasureListError(ValueError):
    """The measure list cannot be used; ``problems`` holds every (where, message) found."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid measure list: " + "; ".join(f"{where}: {message}" for where, message in problems))


@dataclass(frozen=True, slots=True)
class LegalBasis:
    document: str
    provision: str

    def as_dict(self) -> dict[str, str]:
        return {"document": self.document, "provision": self.provision}


@dataclass(frozen=True, slots=True)
class Measure:
    id: str
    nature: Nature
    name: str
    category: Category
    kind: Kind
    effect: Effect
    legal_basis: LegalBasis
    term_years: int | None
    """None: as long as the trigger lasts (while listed); N: N years from the case's start, capped by it."""
    matters: tuple[str, ...]
    implementing_departments: tuple[str, ...]
    triggers: tuple[str, ...]
    subject_kinds: frozenset[str]
    related_person_roles: tuple[str, ...]
    conditions: tuple[tuple[str, ConditionValue], ...]
    instructed: bool

    @property
    def restricting(self) -> bool:
        """Prohibit or restrict: the effects that set `restricted` in a restriction answer (API.md)."""
        return self.effect in RESTRICTING_EFFECTS


@dataclass(frozen=True, slots=True)
class MeasureList:
    version: str
    effective_from: date
    source: str
    matters: Mapping[str, str]
    """Controlled vocabulary of matters: code -> Chinese label."""
    sanctions: tuple[Measure, ...]
    rewards: tuple[Measure, ...]

    @property
    def measures(self) -> tuple[Measure, ...]:
        return self.sanctions + self.rewards

    def get(self, measure_id: str) -> Measure:
        for measure in self.measures:
            if measure.id == measure_id:
                return measure
        raise KeyError(measure_id)


def default_measures_path() -> Path:
    """`<schemas dir>/measures.yaml`, next to the catalogue (EXCHANGE_SCHEMAS_DIR is honoured)."""
    from services.common.catalogue import default_schemas_dir

    return default_schemas_dir() / MEASURES_FILE


def load_measure_list(path: Path, *, departments: Collection[str]) -> MeasureList:
    """Read and validate the measure list; `departments` are the catalogue's department codes.

    Raises :class:`MeasureListError` with every problem found (an unreadable file is one problem too).
    """
    try:
        raw = read_yaml(path)
    except YamlFileError as exc:
        raise MeasureListError([(str(path), str(exc).removeprefix(f"{path}: "))]) from exc
    return parse_measure_list(raw, source=str(path), departments=departments)


def parse_measure_list(raw: Any, *, source: str, departments: Collection[str]) -> MeasureList:
    """Validate an already parsed YAML document (see :func:`load_measure_list`)."""
    return _Parser(source, frozenset(departments)).parse(raw)


def valid_trigger(trigger: str) -> bool:
    evaluation = EVALUATION_TRIGGER.match(trigger)
    if evaluation is not None:
        return evaluation["years"] is None or int(evaluation["years"]) >= 2
    return trigger in RECORD_TRIGGERS or trigger in DERIVED_TRIGGERS or GRADE_TRIGGER.match(trigger) is not None


def check_evaluation_triggers(measure_list: MeasureList, grades: Mapping[str, Collection[str]]) -> None:
    """Every `evaluation:` trigger names a scale and one of its grades (`grades`: scale → grades, from the
    supervision data and the composite evaluation's bands). Raises :class:`MeasureListError` listing each."""
    problems: list[tuple[str, str]] = []
    for m in measure_list.measures:
        where = f"{measure_list.source}: {m.id}.triggers"
        for trigger in m.triggers:
            found = EVALUATION_TRIGGER.match(trigger)
            if found is None:
                continue
            if found["scale"] not in grades:
                problems.append((where, f"unknown scale in {trigger!r} (known: {', '.join(sorted(grades))})"))
            elif found["grade"] not in grades[found["scale"]]:
                problems.append((where, f"{trigger!r}: the scale has no such grade"))
    if problems:
        raise MeasureListError(problems)


@dataclass
class _Parser:
    source: str
    departments: frozenset[str]
    problems: list[tuple[str, str]] = field(default_factory=list)

    def fail(self, where: str, message: str) -> None:
        self.problems.append((f"{self.source}: {where}", message))

    def parse(self, raw: Any) -> MeasureList:
        top = raw if isinstance(raw, Mapping) else {}
        if not isinstance(raw, Mapping):
            self.fail("(top)", "must be a mapping")
        for key in sorted(set(top) - _TOP_KEYS):
            self.fail(str(key), "unknown key")
        version = top.get("version")
        if not isinstance(version, str) or not version:
            self.fail("version", "must be a non-empty string")
        effective = top.get("effective_from")
        if isinstance(effective, str):
            with contextlib.suppress(ValueError):
                effective = date.fromisoformat(effective)
        if not isinstance(effective, date):
            self.fail("effective_from", "must be a date YYYY-MM-DD")
        matters = top.get("matters")
        if not isinstance(matters, Mapping) or not matters:
            self.fail("matters", "must map each matter code to its Chinese label")
            matters = {}
        for code, label in matters.items():
            if not isinstance(code, str) or not _MATTER.match(code) or not isinstance(label, str) or not label:
                self.fail(f"matters.{code}", "a matter is a snake_case code with a non-empty label")
        sanctions = self.section(top.get("sanctions"), "sanctions", Nature.SANCTION, matters)
        rewards = self.section(top.get("rewards"), "rewards", Nature.REWARD, matters)
        seen: set[str] = set()
        for measure in sanctions + rewards:
            if measure.id in seen:
                self.fail(measure.id, "duplicate measure id")
            seen.add(measure.id)
        if self.problems or not isinstance(version, str) or not isinstance(effective, date):
            raise MeasureListError(self.problems)
        return MeasureList(version, effective, self.source, MappingProxyType(dict(matters)), sanctions, rewards)

    def section(self, raw: Any, name: str, nature: Nature, matters: Mapping[str, str]) -> tuple[Measure, ...]:
        if not isinstance(raw, list):
            self.fail(name, "must be a list of measures")
            return ()
        parsed = (self.measure(entry, f"{name}[{n}]", nature, matters) for n, entry in enumerate(raw))
        return tuple(m for m in parsed if m is not None)

    def measure(self, raw: Any, where: str, nature: Nature, matters: Mapping[str, str]) -> Measure | None:
        if not isinstance(raw, Mapping):
            self.fail(where, "must be a mapping")
            return None
        before = len(self.problems)
        mid = raw.get("id")
        if isinstance(mid, str) and _ID.match(mid) and mid[0] == ("M" if nature is Nature.SANCTION else "R"):
            where = f"{where} {mid}"
        else:
            self.fail(where, f"id {mid!r} must look like M-GF33-ADM-01 (sanctions) or R-GF33-ADM-01 (rewards)")
        for key in sorted(set(raw) - _KEYS):
            self.fail(f"{where}.{key}", "unknown key")
        for key in sorted(_KEYS - set(raw)):
            self.fail(f"{where}.{key}", "required")
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            self.fail(f"{where}.name", "must be a non-empty string")
        category = self.enum(raw, where, "category", Category)
        kind = self.enum(raw, where, "kind", Kind)
        effect = self.enum(raw, where, "effect", Effect)
        allowed = SANCTION_EFFECTS if nature is Nature.SANCTION else REWARD_EFFECTS
        if effect is not None and effect not in allowed:
            self.fail(f"{where}.effect", f"a {nature} measure's effect is one of {sorted(allowed)}")
        basis = raw.get("legal_basis")
        if not (isinstance(basis, Mapping) and set(basis) == {"document", "provision"} and all(basis.values())):
            self.fail(f"{where}.legal_basis", "must be {document, provision}, both non-empty (001 L656)")
            basis = {"document": "", "provision": ""}
        term = raw.get("term")
        years = term.get("years") if isinstance(term, Mapping) and set(term) == {"years"} else None
        if term != "while_listed" and not (isinstance(years, int) and not isinstance(years, bool) and years > 0):
            self.fail(f"{where}.term", "must be while_listed or {years: N} with N > 0")
        listed = self.strings(raw, where, "matters", set(matters), "a matter of the vocabulary", nonempty=True)
        depts = self.strings(raw, where, "implementing_departments", self.departments, "a catalogue department")
        triggers = self.strings(raw, where, "triggers", None, "a known trigger", nonempty=True)
        for trigger in triggers:
            if not valid_trigger(trigger):
                self.fail(f"{where}.triggers", f"unknown trigger {trigger!r}")
        kinds = self.strings(raw, where, "subject_kinds", set(SUBJECT_KINDS), "a subject kind", nonempty=True)
        roles = self.strings(raw, where, "related_person_roles", set(RELATED_PERSON_ROLES), "a related-person role")
        if roles and not set(kinds) - {"natural_person"}:
            self.fail(f"{where}.related_person_roles", "only an organisation or business has related persons")
        if roles and years is None:
            # 001 L622: measures reach persons "在一定期限内", never for as long as a listing may last.
            self.fail(f"{where}.term", "a measure that reaches related persons needs a finite term {years: N}")
        conditions = self.conditions(raw.get("conditions"), f"{where}.conditions")
        instructed = raw.get("instructed")
        if not isinstance(instructed, bool):
            self.fail(f"{where}.instructed", "must be true or false")
        elif instructed and category is not None and category is not Category.ADMINISTRATIVE:
            self.fail(f"{where}.instructed", f"a {category} measure is published as information only (001 L656)")
        elif not instructed and depts:
            self.fail(f"{where}.implementing_departments", "a measure that is not instructed has no implementer")
        if len(self.problems) > before or category is None or kind is None or effect is None:
            return None
        if not (isinstance(mid, str) and isinstance(name, str) and isinstance(instructed, bool)):
            return None
        return Measure(
            id=mid,
            nature=nature,
            name=name,
            category=category,
            kind=kind,
            effect=effect,
            legal_basis=LegalBasis(str(basis["document"]), str(basis["provision"])),
            term_years=years,
            matters=listed,
            implementing_departments=depts,
            triggers=triggers,
            subject_kinds=frozenset(kinds),
            related_person_roles=roles,
            conditions=conditions,
            instructed=instructed,
        )

    def enum(self, raw: Mapping[str, Any], where: str, key: str, enum: type[_E]) -> _E | None:
        value = raw.get(key)
        if value not in {str(member) for member in enum}:
            self.fail(f"{where}.{key}", f"must be one of {[str(m) for m in enum]}, got {value!r}")
            return None
        return enum(value)

    def strings(
        self,
        raw: Mapping[str, Any],
        where: str,
        key: str,
        allowed: Collection[str] | None,
        what: str,
        *,
        nonempty: bool = False,
    ) -> tuple[str, ...]:
        value = raw.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or (nonempty and not value):
            self.fail(f"{where}.{key}", "must be a " + ("non-empty " if nonempty else "") + "list of strings")
            return ()
        if len(set(value)) != len(value):
            self.fail(f"{where}.{key}", "repeats an entry")
        for item in value:
            if allowed is not None and item not in allowed:
                self.fail(f"{where}.{key}", f"{item!r} is not {what} (known: {', '.join(sorted(allowed))})")
        return tuple(value)

    def conditions(self, raw: Any, where: str) -> tuple[tuple[str, ConditionValue], ...]:
        if not isinstance(raw, Mapping):
            self.fail(where, "must be a mapping of fact -> required value ({} for none)")
            return ()
        for fact, value in raw.items():
            expected = CONDITION_FACTS.get(str(fact))
            if expected is None:
                self.fail(where, f"unknown fact {fact!r} (known: {', '.join(CONDITION_FACTS)})")
            elif not isinstance(value, expected):
                self.fail(where, f"{fact} must be a {expected.__name__}")
        return tuple(sorted((str(k), v) for k, v in raw.items()))
