"""Publicity periods (公示期限, DOMAIN §7): the window in which a disclosure record is published.

Data, not code: the rule sets and the severity table live in ``schemas/rulesets/publicity/*.yaml`` (each
file says how it is read). The rule set in force on the record's *decision date* applies.

Date convention (one helper, :func:`add_months`): a period of N months starting on the decision day ends
on the day of the N-th month that corresponds to the decision day, clamped to the month's last day
(民法典 Arts. 201-202: the start day is not counted, the corresponding day is the last day). That end day
is **inclusive**: ``maximum_end`` (公示截止期) is the last day the record is visible, and it leaves
publication at 00:00 of ``withdraw_on`` (the next day); ``minimum_end`` is the last day of the minimum
period, and repair may be applied for from ``repair_from`` (the next day, "最短公示期届满后").

Pure: no wall clock, no I/O except :func:`load_publicity_rules` reading the YAML files.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, ValidationError, model_validator

from services.common.calendar import Deadline, WorkingDayCalendar
from services.common.records import AcceptedRecord
from services.common.severity import Severity, SeverityTable, severity_of
from services.common.yaml_files import YamlFileError, read_yaml

PENALTY = "administrative_penalty"
RULES_DIR = Path("rulesets") / "publicity"


def add_months(start: date, months: int) -> date:
    """The day ``months`` months after ``start``, clamped to the month's end (2026-08-31 + 6 → 2027-02-28)."""
    if months < 0:
        raise ValueError(f"months must not be negative, got {months}")
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, monthrange(year, month)[1]))


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class TierPeriod(_Model):
    publish: bool
    min_months: NonNegativeInt | None = None
    max_months: PositiveInt | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.publish and (self.min_months is None or self.max_months is None or self.min_months > self.max_months):
            raise ValueError("a published tier needs min_months <= max_months")
        if not self.publish and (self.min_months is not None or self.max_months is not None):
            raise ValueError("an unpublished tier has no period (min_months/max_months null)")
        return self


class MinorPublication(_Model):
    """36号令: a ministry may publish 轻微 penalties for at most ``max_months`` (its departments listed)."""

    departments: frozenset[str] = frozenset()
    max_months: PositiveInt = 3


class SafetyFields(_Model):
    """58号令: penalties in these fields (recognised by markers in ``match_fields``) have a longer minimum."""

    min_months: PositiveInt
    match_fields: tuple[str, ...]
    fields: dict[str, tuple[str, ...]]

    def field_of(self, data: Mapping[str, Any]) -> tuple[str, str] | None:
        """(field name, marker found) of the first safety field the data shows, or None."""
        texts = [v for v in (data.get(f) for f in self.match_fields) if isinstance(v, str)]
        for name, markers in self.fields.items():
            for marker in markers:
                if any(marker in text for text in texts):
                    return name, marker
        return None


class NonRepairable(_Model):
    """What a rule set does with a penalty the law marks 不可修复 (v2 ``non_repairable``) beyond barring repair:
    527 publishes 特定严重失信 penalties for the longest period ("严格按最长公示期限予以公示")."""

    published_as: Severity
    """The tier whose maximum such a penalty is published for at least."""


class PenaltyRules(_Model):
    tiers: dict[Severity, TierPeriod]
    minor_publication: MinorPublication | None = None
    safety_fields: SafetyFields | None = None
    non_repairable: NonRepairable | None = None
    """None: a 不可修复 penalty keeps its tier's period; repair is barred in every rule set all the same."""

    @model_validator(mode="after")
    def _monotone(self) -> Self:
        if set(self.tiers) != set(Severity):
            raise ValueError(f"tiers must be exactly {[str(s) for s in Severity]}")
        ordered = [self.tiers[s] for s in Severity]
        for lower, higher in pairwise(ordered):
            shrinks = lower.publish and (
                not higher.publish
                or (higher.min_months or 0) < (lower.min_months or 0)
                or (higher.max_months or 0) < (lower.max_months or 0)
            )
            if shrinks:
                raise ValueError("periods must not shrink from 轻微 to 一般 to 严重 (the worst tier is the longest)")
        return self


class TypeRule(_Model):
    """Another disclosure type: published while valid (licensing) or for a fixed period."""

    rule: Literal["while_valid", "fixed"]
    max_months: PositiveInt | None = None
    until_field: str | None = None
    indefinite: date | None = None
    status_field: str | None = None
    valid_status: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.rule == "while_valid" and self.until_field is None:
            raise ValueError("while_valid needs until_field")
        if self.rule == "fixed" and self.max_months is None:
            raise ValueError("fixed needs max_months")
        return self


class DecisionRange(_Model):
    from_: date | None = Field(alias="from")
    to: date | None

    def covers(self, day: date) -> bool:
        return (self.from_ is None or self.from_ <= day) and (self.to is None or day <= self.to)


class PublicityRuleSet(_Model):
    kind: Literal["publicity_rule_set"]
    id: str
    version: PositiveInt
    title: str
    source: str
    applies_to_decisions: DecisionRange
    penalty: PenaltyRules
    record_types: dict[str, TypeRule]


@dataclass(frozen=True, slots=True)
class PublicityRules:
    rule_sets: tuple[PublicityRuleSet, ...]
    """Ordered by decision date; their ranges neither overlap nor leave gaps (checked by the loader)."""
    severity: SeverityTable

    def rule_set_for(self, decision_date: date) -> PublicityRuleSet | None:
        return next((r for r in self.rule_sets if r.applies_to_decisions.covers(decision_date)), None)


@dataclass(frozen=True, slots=True)
class PublicityWindow:
    rule_set: str | None
    rule_set_version: int | None
    severity: Severity | None
    """None for record types that are not penalties."""
    publish: bool
    reason: str
    starts: date
    minimum_end: date | None
    """Last day of the minimum period (inclusive); None when the record is not repairable/has no minimum."""
    maximum_end: date | None
    """公示截止期: last day of publication (inclusive); None = no automatic withdrawal (长期 licence)."""
    disclosure_due: Deadline | None
    details: tuple[str, ...] = ()
    non_repairable: str | None = None
    """The legal basis when the record is marked 不可修复 (then ``minimum_end`` is None: no repair)."""

    @property
    def repair_from(self) -> date | None:
        """Earliest day a repair application is admissible (the day after the minimum period)."""
        return None if self.minimum_end is None else self.minimum_end + timedelta(days=1)

    @property
    def withdraw_on(self) -> date | None:
        """The day the record leaves publication automatically (the day after 公示截止期)."""
        return None if self.maximum_end is None else self.maximum_end + timedelta(days=1)

    def is_published_on(self, day: date) -> bool:
        return self.publish and self.starts <= day and (self.maximum_end is None or day <= self.maximum_end)


class PublicityRulesError(ValueError):
    """The rule files cannot be used; the message names every file and problem."""


def load_publicity_rules(schemas_dir: Path) -> PublicityRules:
    """Read every ``<schemas_dir>/rulesets/publicity/*.yaml`` (rule sets and the one severity table).

    Raises :class:`PublicityRulesError` listing every problem: invalid files, duplicate keys or ids, no
    or several severity tables, decision ranges that overlap or leave a gap.
    """
    folder, problems = schemas_dir / RULES_DIR, []
    rule_sets: list[PublicityRuleSet] = []
    tables: list[SeverityTable] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            document = read_yaml(path)
            kind = document.get("kind") if isinstance(document, dict) else None
            if kind == "publicity_rule_set":
                rule_sets.append(PublicityRuleSet.model_validate(document))
            elif kind == "severity_table":
                tables.append(SeverityTable.model_validate(document))
            else:
                problems.append(f"{path.name}: kind must be publicity_rule_set or severity_table, got {kind!r}")
        except YamlFileError as exc:
            problems.append(str(exc).replace(str(path), path.name, 1))
        except ValidationError as exc:
            problems.append(f"{path.name}: {exc}")
    rule_sets.sort(key=lambda r: r.applies_to_decisions.from_ or date.min)
    problems += _range_problems(rule_sets)
    if len(tables) != 1:
        problems.append(f"exactly one severity_table expected in {folder}, found {len(tables)}")
    if problems:
        raise PublicityRulesError("invalid publicity rules: " + "; ".join(problems))
    return PublicityRules(tuple(rule_sets), tables[0])


def publicity_window(
    record: AcceptedRecord,
    rules: PublicityRules,
    calendar: WorkingDayCalendar,
    *,
    listed_documents: frozenset[str] = frozenset(),
) -> PublicityWindow:
    """When ``record`` (effective data: pass a corrected record as corrected) is published, and why.

    ``listed_documents``: document numbers that serious-untrustworthy 认定 records rest on
    (:func:`~services.common.severity.listed_document_numbers`); such a penalty is 严重.
    """
    start, rule_set = record.decision_date, rules.rule_set_for(record.decision_date)
    if rule_set is None:
        return _closed(record, None, None, f"no publicity rule set covers decisions of {start}")
    due = calendar.disclosure_deadline(start)
    if record.record_type == PENALTY:
        return _penalty_window(record, rules, rule_set, due, listed_documents)
    rule = rule_set.record_types.get(record.record_type)
    if rule is None:
        return _closed(record, rule_set, None, f"{rule_set.id} has no publicity rule for {record.record_type}")
    data = record.data
    if rule.status_field is not None and data.get(rule.status_field) != rule.valid_status:
        status = data.get(rule.status_field)
        return _closed(record, rule_set, None, f"{rule.status_field} is {status!r}, not {rule.valid_status!r}")
    until = _date(data.get(rule.until_field)) if rule.until_field else None
    if rule.rule == "while_valid":
        end = None if until is None or until == rule.indefinite else until
        reason = f"published while valid, through {rule.until_field} {end}" if end else "published while valid (长期)"
    else:
        end, reason = fixed_period_end(start, rule, until)
    return PublicityWindow(rule_set.id, rule_set.version, None, True, reason, start, None, end, due)


def fixed_period_end(start: date, rule: TypeRule, until: date | None) -> tuple[date, str]:
    """The last day of a ``fixed`` rule: the act's own term (``until_field``) when it has one, but never past
    the rule set's maximum — a 行政强制 valid until 2031 leaves publication at the maximum like any other act."""
    maximum = add_months(start, rule.max_months or 0)
    if until is None:
        return maximum, f"published for {rule.max_months} months"
    if until > maximum:
        return maximum, f"published for {rule.max_months} months (the maximum; {rule.until_field} {until} is later)"
    return until, f"published through {rule.until_field} {until}"


def _penalty_window(
    record: AcceptedRecord,
    rules: PublicityRules,
    rule_set: PublicityRuleSet,
    due: Deadline,
    listed_documents: frozenset[str],
) -> PublicityWindow:
    found = severity_of(record, rules.severity, listed_documents=listed_documents)
    tier, details, start = rule_set.penalty.tiers[found.severity], list(found.reasons), record.decision_date
    minimum, maximum, why = tier.min_months, tier.max_months, ""
    special = rule_set.penalty.minor_publication
    if not tier.publish and found.severity is Severity.MINOR and special and record.department in special.departments:
        minimum, maximum, why = 0, special.max_months, ", published by the ministry's choice (minor_publication)"
    elif not tier.publish:
        return _closed(record, rule_set, found.severity, f"{rule_set.id}: {found.severity} penalties are not published")
    safety = rule_set.penalty.safety_fields
    in_field = safety.field_of(record.data) if safety else None
    if safety and in_field:
        minimum, why = max(minimum or 0, safety.min_months), f", safety field {in_field[0]} ({in_field[1]})"
        maximum = max(maximum or 0, minimum)
    barred = non_repairable_basis(record.data)
    if barred is not None:
        longest = rule_set.penalty.non_repairable
        if longest is not None:
            maximum = max(maximum or 0, rule_set.penalty.tiers[longest.published_as].max_months or 0)
        minimum, why = None, f"{why}, 不可修复 ({barred})"
    reason = f"{rule_set.id}: {found.severity} → {minimum}-{maximum} months{why}"
    return PublicityWindow(
        rule_set.id,
        rule_set.version,
        found.severity,
        True,
        reason,
        start,
        None if minimum is None else add_months(start, minimum),
        None if maximum is None else add_months(start, maximum),
        due,
        tuple(details),
        barred,
    )


NON_REPAIRABLE_FIELD, NON_REPAIRABLE_BASIS_FIELD = "non_repairable", "non_repairable_basis"
DEFAULT_NON_REPAIRABLE_BASIS = "法律、法规或党中央、国务院政策文件规定不可修复"


def non_repairable_basis(data: Mapping[str, Any]) -> str | None:
    """The basis of a penalty marked 不可修复 (catalogue v2 ``non_repairable: true``), else None (v1: never)."""
    if data.get(NON_REPAIRABLE_FIELD) is not True:
        return None
    basis = data.get(NON_REPAIRABLE_BASIS_FIELD)
    return basis if isinstance(basis, str) and basis.strip() else DEFAULT_NON_REPAIRABLE_BASIS


def _closed(
    record: AcceptedRecord, rule_set: PublicityRuleSet | None, severity: Severity | None, reason: str
) -> PublicityWindow:
    rid, version = (rule_set.id, rule_set.version) if rule_set else (None, None)
    return PublicityWindow(rid, version, severity, False, reason, record.decision_date, None, None, None)


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _range_problems(rule_sets: list[PublicityRuleSet]) -> list[str]:
    problems, ids = [], [r.id for r in rule_sets]
    problems += [f"rule set id {i!r} is used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    if rule_sets and rule_sets[0].applies_to_decisions.from_ is not None:
        problems.append(f"{rule_sets[0].id}: the earliest rule set must apply from null (all earlier decisions)")
    if rule_sets and rule_sets[-1].applies_to_decisions.to is not None:
        problems.append(f"{rule_sets[-1].id}: the latest rule set must apply to null (all later decisions)")
    for earlier, later in pairwise(rule_sets):
        end, begin = earlier.applies_to_decisions.to, later.applies_to_decisions.from_
        if end is None or begin is None or begin != end + timedelta(days=1):
            problems.append(f"{earlier.id} (to {end}) and {later.id} (from {begin}) overlap or leave a gap")
    return problems
