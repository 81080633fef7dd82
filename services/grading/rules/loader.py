"""Load and validate grading rule sets (`schemas/rulesets/grading/<id>.yaml`) and the jurisdiction
setting (`schemas/jurisdiction.yaml`) into the frozen types of `model`.

Strict: unknown keys, missing keys, wrong types, unknown grades, kinds, levels or record types are refused
with a :class:`RuleSetError` naming the file and the key (`versions[0].rules.thresholds_yuan.legal_person`).
Call at start-up (lifespan or ``main()``), never at import. The only I/O of the grading rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NoReturn

from services.common.jurisdiction import JurisdictionError, load_jurisdiction_file
from services.common.severity import load_severity_table
from services.common.yaml_files import YamlFileError, read_yaml
from services.grading.rules.credit_file import DETAIL_FIELDS, GAINS, LIST_SHAPES, PROPERTY
from services.grading.rules.model import (
    CONSEQUENCE_EFFECTS,
    ENGINES,
    GRADES,
    INDUSTRY_RISKS,
    LEVELS,
    PENALTY_KINDS,
    REGION_CLASSES,
    SUBJECT_KINDS,
    BenxiRules,
    ChongqingRules,
    Consequence,
    GradeLabel,
    Jurisdiction,
    LevelMeasures,
    NationalRepair,
    RecordRule,
    RuleSet,
    RuleSets,
    RuleSetVersion,
    SeriousPenalty,
)

RULE_SETS_DIR = Path("rulesets") / "grading"
AMOUNT_KIND_FIELDS = ("CF_NR_FK", "CF_NR_WFFF", GAINS, PROPERTY)
JURISDICTION_FILE = "jurisdiction.yaml"


class RuleSetError(ValueError):
    """A rule-set or jurisdiction file that cannot be used; the message names the file and the key."""


class _File:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, message: str) -> NoReturn:
        raise RuleSetError(f"{self.path}: {key or '(top level)'}: {message}")

    def mapping(
        self, value: Any, key: str, required: set[str], optional: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(key, f"expected a mapping, got {type(value).__name__}")
        for name in sorted(required - value.keys()):
            self.fail(_join(key, name), "missing")
        for name in sorted(set(value) - required - optional):
            self.fail(_join(key, str(name)), "unknown key")
        return value

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(key, "expected a non-empty string")
        return value

    def integer(self, value: Any, key: str, minimum: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(key, f"expected an integer >= {minimum}")
        return int(value)

    def day(self, value: Any, key: str) -> date:
        if not isinstance(value, date):
            self.fail(key, "expected an unquoted date YYYY-MM-DD")
        return value

    def choice(self, value: Any, key: str, allowed: tuple[str, ...] | frozenset[str]) -> str:
        if value not in allowed:
            self.fail(key, f"{value!r} is not one of {', '.join(sorted(allowed))}")
        return str(value)

    def items(self, value: Any, key: str, *, non_empty: bool = False) -> list[Any]:
        if not isinstance(value, list) or (non_empty and not value):
            self.fail(key, "expected a non-empty list" if non_empty else "expected a list")
        return value

    def choices(self, value: Any, key: str, allowed: tuple[str, ...] | frozenset[str]) -> frozenset[str]:
        return frozenset(self.choice(v, f"{key}[{i}]", allowed) for i, v in enumerate(self.items(value, key)))

    def amount(self, value: Any, key: str) -> Decimal:
        # Integers or quoted decimals only: a YAML float is already inexact.
        if isinstance(value, bool) or not isinstance(value, int | str):
            self.fail(key, "expected an integer or a quoted decimal (yuan)")
        try:
            result = Decimal(str(value))
        except InvalidOperation:
            self.fail(key, f"{value!r} is not a decimal")
        if not result.is_finite() or result < 0:
            self.fail(key, "expected a non-negative amount")
        return result


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _read(path: Path) -> Any:
    try:
        return read_yaml(path)
    except YamlFileError as exc:
        raise RuleSetError(str(exc)) from exc


def load_rule_sets(schemas_dir: Path) -> RuleSets:
    """Every `<schemas_dir>/rulesets/grading/*.yaml`, keyed by id (the file name without `.yaml`)."""
    directory = schemas_dir / RULE_SETS_DIR
    found = {rs.id: rs for rs in (load_rule_set(p) for p in sorted(directory.glob("*.yaml")))}
    if not found:
        raise RuleSetError(f"{directory}: no grading rule sets")
    return found


def load_rule_set(path: Path) -> RuleSet:
    f = _File(path)
    top = f.mapping(_read(path), "", {"id", "title", "engine", "source", "versions"})
    rule_set_id = f.text(top["id"], "id")
    if rule_set_id != path.stem:
        f.fail("id", f"{rule_set_id!r} must equal the file name {path.stem!r}")
    title, source = f.text(top["title"], "title"), f.text(top["source"], "source")
    engine = f.choice(top["engine"], "engine", ENGINES)
    head = {"rule_set_id": rule_set_id, "title": title, "engine": engine, "source": source}
    raw_versions = f.items(top["versions"], "versions", non_empty=True)
    versions = tuple(_version(f, v, f"versions[{i}]", head) for i, v in enumerate(raw_versions))
    for i in range(1, len(versions)):
        if versions[i].effective_from <= versions[i - 1].effective_from:
            f.fail(f"versions[{i}].effective_from", "versions must take effect in strictly increasing order")
        if versions[i].version <= versions[i - 1].version:
            f.fail(f"versions[{i}].version", "version numbers must increase")
    return RuleSet(rule_set_id, title, engine, source, versions)


def _version(f: _File, raw: Any, key: str, head: dict[str, str]) -> RuleSetVersion:
    required = {"version", "effective_from", "subject_kinds", "look_back_years", "grades", "consequences", "rules"}
    required.add("national_repair")
    v = f.mapping(raw, key, required)
    grades_raw = f.mapping(v["grades"], f"{key}.grades", set(GRADES))
    grades = {g: _label(f, grades_raw[g], f"{key}.grades.{g}") for g in GRADES}
    cons_raw = f.mapping(v["consequences"], f"{key}.consequences", set(), frozenset(GRADES))
    consequences = {g: _consequences(f, cons_raw.get(g, []), f"{key}.consequences.{g}") for g in GRADES}
    rules_key = f"{key}.rules"
    rules = _chongqing(f, v["rules"], rules_key) if head["engine"] == "chongqing" else _benxi(f, v["rules"], rules_key)
    repair = f.mapping(v["national_repair"], f"{key}.national_repair", {"effect", "source"})
    effect = f.choice(
        repair["effect"], f"{key}.national_repair.effect", ("removes_record", "removes_record_except_never_repairable")
    )
    national_repair = NationalRepair(
        removes_record=True,
        keeps_never_repairable=effect == "removes_record_except_never_repairable",
        source=f.text(repair["source"], f"{key}.national_repair.source"),
    )
    look_back = f.integer(v["look_back_years"], f"{key}.look_back_years")
    subject_kinds = f.choices(v["subject_kinds"], f"{key}.subject_kinds", SUBJECT_KINDS)
    if isinstance(rules, ChongqingRules):
        if rules.repair_years != look_back:
            # 一年内 (000 L181-L188) and the one-year repair (000 L195) are the same year.
            f.fail(f"{rules_key}.repair_years", "must equal look_back_years for the chongqing engine")
        if not subject_kinds <= rules.thresholds_yuan.keys():
            f.fail(f"{key}.subject_kinds", "the chongqing engine grades only legal_person and individual_business")
    return RuleSetVersion(
        **head,
        version=f.integer(v["version"], f"{key}.version"),
        effective_from=f.day(v["effective_from"], f"{key}.effective_from"),
        subject_kinds=subject_kinds,
        look_back_years=look_back,
        grades=grades,
        consequences=consequences,
        rules=rules,
        national_repair=national_repair,
    )


def _label(f: _File, raw: Any, key: str) -> GradeLabel:
    m = f.mapping(raw, key, {"name", "english"}, frozenset({"plate"}))
    plate = None if m.get("plate") is None else f.text(m["plate"], f"{key}.plate")
    return GradeLabel(f.text(m["name"], f"{key}.name"), f.text(m["english"], f"{key}.english"), plate)


def _consequences(f: _File, raw: Any, key: str) -> tuple[Consequence, ...]:
    out = []
    for i, item in enumerate(f.items(raw, key)):
        k = f"{key}[{i}]"
        m = f.mapping(item, k, {"matter", "effect", "text", "source"})
        matter = None if m["matter"] is None else f.text(m["matter"], f"{k}.matter")
        effect = f.choice(m["effect"], f"{k}.effect", CONSEQUENCE_EFFECTS)
        out.append(Consequence(matter, effect, f.text(m["text"], f"{k}.text"), f.text(m["source"], f"{k}.source")))
    return tuple(out)


def _chongqing(f: _File, raw: Any, key: str) -> ChongqingRules:
    names = {"counted_departments", "thresholds_yuan", "warning_kinds", "amount_kinds", "unnamed_kind_grade"}
    names |= {"serious_penalties", "repair_years", "supervision_levels", "level_measures"}
    m = f.mapping(raw, key, names)
    departments = f.items(m["counted_departments"], f"{key}.counted_departments", non_empty=True)
    counted = frozenset(f.text(d, f"{key}.counted_departments[{i}]") for i, d in enumerate(departments))
    graded = {"legal_person", "individual_business"}
    thresholds_raw = f.mapping(m["thresholds_yuan"], f"{key}.thresholds_yuan", graded)
    thresholds = {k: f.amount(thresholds_raw[k], f"{key}.thresholds_yuan.{k}") for k in sorted(graded)}
    amount_raw = f.mapping(m["amount_kinds"], f"{key}.amount_kinds", set(), frozenset(PENALTY_KINDS))
    amount_kinds = {k: f.choice(val, f"{key}.amount_kinds.{k}", AMOUNT_KIND_FIELDS) for k, val in amount_raw.items()}
    serious_raw = f.mapping(m["serious_penalties"], f"{key}.serious_penalties", graded)
    serious = {k: _serious(f, serious_raw[k], f"{key}.serious_penalties.{k}") for k in sorted(graded)}
    return ChongqingRules(
        counted_departments=counted,
        thresholds_yuan=thresholds,
        warning_kinds=f.choices(m["warning_kinds"], f"{key}.warning_kinds", PENALTY_KINDS),
        amount_kinds=amount_kinds,
        unnamed_kind_grade=f.choice(m["unnamed_kind_grade"], f"{key}.unnamed_kind_grade", ("B", "C")),
        serious_penalties=serious,
        repair_years=f.integer(m["repair_years"], f"{key}.repair_years"),
        supervision_levels=_levels(f, m["supervision_levels"], f"{key}.supervision_levels"),
        level_measures=_measures(f, m["level_measures"], f"{key}.level_measures"),
    )


def _serious(f: _File, raw: Any, key: str) -> tuple[SeriousPenalty, ...]:
    out = []
    for i, item in enumerate(f.items(raw, key)):
        k = f"{key}[{i}]"
        m = f.mapping(item, k, {"kind", "named_as", "english", "repair"}, frozenset({"licence_names"}))
        licences = f.items(m.get("licence_names", []), f"{k}.licence_names")
        out.append(
            SeriousPenalty(
                kind=f.choice(m["kind"], f"{k}.kind", PENALTY_KINDS),
                named_as=f.text(m["named_as"], f"{k}.named_as"),
                english=f.text(m["english"], f"{k}.english"),
                licence_names=tuple(f.text(n, f"{k}.licence_names[{j}]") for j, n in enumerate(licences)),
                repairable_after_resumption=f.choice(m["repair"], f"{k}.repair", ("after_resumption", "never"))
                == "after_resumption",
            )
        )
    return tuple(out)


def _levels(f: _File, raw: Any, key: str) -> Mapping[tuple[str, str, str], str]:
    m = f.mapping(raw, key, {"columns", "rows"})
    if m["columns"] != list(INDUSTRY_RISKS):
        f.fail(f"{key}.columns", f"expected exactly {list(INDUSTRY_RISKS)}")
    row_names = {f"{g} {r}" for g in GRADES for r in REGION_CLASSES}
    rows = f.mapping(m["rows"], f"{key}.rows", row_names)
    table: dict[tuple[str, str, str], str] = {}
    for name in sorted(row_names):
        grade, region = name.split(" ")
        cells = rows[name]
        if not isinstance(cells, list) or len(cells) != len(INDUSTRY_RISKS):
            f.fail(f"{key}.rows.{name}", f"expected {len(INDUSTRY_RISKS)} levels, one per column")
        for industry, cell in zip(INDUSTRY_RISKS, cells, strict=True):
            table[(grade, industry, region)] = f.choice(cell, f"{key}.rows.{name}", LEVELS)
    return table


def _measures(f: _File, raw: Any, key: str) -> Mapping[str, LevelMeasures]:
    m = f.mapping(raw, key, set(LEVELS))
    out = {}
    for level in LEVELS:
        k = f"{key}.{level}"
        item = f.mapping(m[level], k, {"name", "patrol", "text", "source"})
        fields = (f.text(item[n], f"{k}.{n}") for n in ("name", "patrol", "text", "source"))
        out[level] = LevelMeasures(*fields)
    return out


def _benxi(f: _File, raw: Any, key: str) -> BenxiRules:
    m = f.mapping(raw, key, {"positive", "adverse", "serious", "light"})
    positive = f.mapping(m["positive"], f"{key}.positive", {"records", "lists"})
    adverse = f.mapping(m["adverse"], f"{key}.adverse", {"records", "lists"})
    serious = f.mapping(m["serious"], f"{key}.serious", {"lists"})
    light = f.mapping(m["light"], f"{key}.light", {"penalty_severities", "severity_table", "lists", "grade"})
    lists = frozenset(LIST_SHAPES)
    adverse_lists = f.choices(adverse["lists"], f"{key}.adverse.lists", lists)
    light_lists = f.choices(light["lists"], f"{key}.light.lists", lists)
    if not light_lists <= adverse_lists:
        f.fail(f"{key}.light.lists", "a light list must also be an adverse list")
    table_key = f"{key}.light.severity_table"
    try:
        table = load_severity_table((f.path.parent / f.text(light["severity_table"], table_key)).resolve())
    except ValueError as exc:
        f.fail(table_key, str(exc))
    tiers = frozenset(str(t) for t in table.tiers)
    return BenxiRules(
        positive_records=_record_rules(f, positive["records"], f"{key}.positive.records"),
        positive_lists=f.choices(positive["lists"], f"{key}.positive.lists", lists),
        adverse_records=_record_rules(f, adverse["records"], f"{key}.adverse.records"),
        adverse_lists=adverse_lists,
        serious_lists=f.choices(serious["lists"], f"{key}.serious.lists", lists),
        light_penalty_severities=f.choices(light["penalty_severities"], f"{key}.light.penalty_severities", tiers),
        light_lists=light_lists,
        light_grade=f.choice(light["grade"], f"{key}.light.grade", ("B", "C")),
        severity=table,
    )


def _record_rules(f: _File, raw: Any, key: str) -> tuple[RecordRule, ...]:
    out = []
    for i, item in enumerate(f.items(raw, key)):
        k = f"{key}[{i}]"
        m = f.mapping(item, k, {"record_type"}, frozenset({"values"}))
        values = f.items(m.get("values", []), f"{k}.values")
        record_type = f.choice(m["record_type"], f"{k}.record_type", frozenset(DETAIL_FIELDS))
        out.append(RecordRule(record_type, frozenset(f.text(x, f"{k}.values[{j}]") for j, x in enumerate(values))))
    return tuple(out)


def load_jurisdiction(path: Path, rule_sets: RuleSets | None = None) -> Jurisdiction:
    """`schemas/jurisdiction.yaml` through the one shared loader; with `rule_sets`, its grading rule set must
    be one of them."""
    try:
        loaded = load_jurisdiction_file(path)
    except JurisdictionError as exc:
        raise RuleSetError(str(exc)) from exc
    result = Jurisdiction(loaded.jurisdiction, loaded.name, loaded.grading_rule_set, loaded.service_levels)
    if rule_sets is not None and result.grading_rule_set not in rule_sets:
        known = ", ".join(sorted(rule_sets))
        _File(path).fail("grading_rule_set", f"{result.grading_rule_set!r} is not a rule set; known: {known}")
    return result
