"""Types of the pure grading rules (DOMAIN §5).

A rule set (`schemas/rulesets/grading/<id>.yaml`) is loaded into a :class:`RuleSet` of dated
:class:`RuleSetVersion` s; the version in force on the as-of date grades a subject into a
:class:`GradeResult`. The engine-specific part of a version is :class:`ChongqingRules` or
:class:`BenxiRules`. Everything here is immutable; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from services.common.jurisdiction import ServiceLevels
from services.common.severity import SeverityTable

GRADES = ("A", "B", "C", "D")
"""Best to worst. "Worst grade wins" (000 L193) is the maximum in this order."""
LEVELS = ("I", "II", "III", "IV")
"""Supervision levels Ⅰ-Ⅳ (000 L257), lightest to strictest."""
SUBJECT_KINDS = ("legal_person", "individual_business", "natural_person")
SUBJECT_KIND_NAMES: Mapping[str, tuple[str, str]] = {
    "legal_person": ("法人及非法人组织", "legal persons and other organisations"),
    "individual_business": ("个体工商户", "individual businesses"),
    "natural_person": ("自然人", "natural persons"),
}
PENALTY_KINDS = (
    # 处罚类别 of the national 行政处罚 data standard (CF_CFLB; schemas/records/administrative_penalty/v1.json).
    "警告",
    "通报批评",
    "罚款",
    "没收违法所得",
    "没收非法财物",
    "暂扣许可证件",
    "降低资质等级",
    "吊销许可证件",
    "限制开展生产经营活动",
    "责令停产停业",
    "责令关闭",
    "限制从业",
    "行政拘留",
    "其他",
)
INDUSTRY_RISKS = ("一般行业", "公众聚集场所", "热点行业", "高危行业")  # 000 L199-L230
REGION_CLASSES = ("一般监管区域", "重点监管区域")  # 000 L233-L244
ENGINES = ("benxi", "chongqing")
CONSEQUENCE_EFFECTS = ("priority", "prudential_reference", "strict_review", "restrict", "prohibit")


def worst(grades: Iterable[str]) -> str | None:
    """The worst of `grades` (D over C over B over A), None for none."""
    ranked = [GRADES.index(g) for g in grades]
    return GRADES[max(ranked)] if ranked else None


@dataclass(frozen=True, slots=True)
class GradeLabel:
    name: str
    english: str
    plate: str | None = None
    """Chongqing's coloured plate (绿牌, 蓝牌, 黄牌, 黑牌; 000 L180)."""


@dataclass(frozen=True, slots=True)
class Consequence:
    """What a grade means for a decision another department takes (DOMAIN §6), as data."""

    matter: str | None
    """API.md `matter` (`public_tender`, `fiscal_subsidy` …); None: every related economic activity."""
    effect: str
    """One of CONSEQUENCE_EFFECTS: `priority` is a reward, the others restrict in increasing strength."""
    text: str
    source: str


@dataclass(frozen=True, slots=True)
class SeriousPenalty:
    """A 处罚类别 that makes a subject D under chongqing-amr (000 L190)."""

    kind: str
    named_as: str
    english: str
    licence_names: tuple[str, ...]
    """Non-empty: only when CF_NR_ZKDX names one of these (吊销许可证件 of the 营业执照)."""
    repairable_after_resumption: bool
    """000 L196: 停业整顿 / 停业 is repaired one year after business resumes; other D never."""


@dataclass(frozen=True, slots=True)
class LevelMeasures:
    name: str
    patrol: str
    text: str
    source: str


@dataclass(frozen=True, slots=True)
class ChongqingRules:
    counted_departments: frozenset[str]
    """Departments whose penalties count for A, B and C ("工商行政管理法律法规", 000 L181-L188); D counts any."""
    thresholds_yuan: Mapping[str, Decimal]
    """Per subject kind: at most this is B, above it is C (以上 excludes the number, 000 L187)."""
    warning_kinds: frozenset[str]
    amount_kinds: Mapping[str, str]
    """处罚类别 → the record field holding its amount in 万元 (罚款 → CF_NR_FK …)."""
    unnamed_kind_grade: str
    serious_penalties: Mapping[str, tuple[SeriousPenalty, ...]]
    """Per subject kind."""
    repair_years: int
    supervision_levels: Mapping[tuple[str, str, str], str]
    """(grade, industry risk, region class) → level; complete over GRADES × INDUSTRY_RISKS × REGION_CLASSES."""
    level_measures: Mapping[str, LevelMeasures]


@dataclass(frozen=True, slots=True)
class RecordRule:
    """Records of `record_type` whose detail value is in `values` (empty: any value)."""

    record_type: str
    values: frozenset[str]

    def matches(self, record_type: str, details: frozenset[str]) -> bool:
        return record_type == self.record_type and (not self.values or bool(self.values & details))


@dataclass(frozen=True, slots=True)
class BenxiRules:
    positive_records: tuple[RecordRule, ...]
    positive_lists: frozenset[str]
    adverse_records: tuple[RecordRule, ...]
    adverse_lists: frozenset[str]
    serious_lists: frozenset[str]
    """Lists whose entries give D when they cause serious social impact (004 L47)."""
    light_penalty_severities: frozenset[str] = frozenset()
    """Adverse penalties of these severity tiers (轻微) are light: they bar A but never make C."""
    light_lists: frozenset[str] = frozenset()
    """Adverse list entries that are light in the same way (重点关注名单, "without joint sanctions")."""
    light_grade: str = "B"
    """The grade a subject whose adverse records are all light gets (unless D)."""
    severity: SeverityTable | None = None
    """The shared severity table (services/common/severity.py) that says which penalties are 轻微."""


@dataclass(frozen=True, slots=True)
class NationalRepair:
    """What an approved national credit repair (repair_decision 准予修复, DOMAIN §9) does to this rule set's
    file, stated by each rule set as data."""

    removes_record: bool
    """The repaired record is no longer a basis for the grade (from the repair's date)."""
    keeps_never_repairable: bool
    """Except where this rule set itself says the grade the record gives is never repaired (000 L196)."""
    source: str


@dataclass(frozen=True, slots=True)
class RuleSetVersion:
    rule_set_id: str
    title: str
    engine: str
    source: str
    version: int
    effective_from: date
    subject_kinds: frozenset[str]
    look_back_years: int
    grades: Mapping[str, GradeLabel]
    consequences: Mapping[str, tuple[Consequence, ...]]
    """Per grade; a grade without consequences maps to ()."""
    rules: ChongqingRules | BenxiRules
    national_repair: NationalRepair = NationalRepair(True, False, "")


@dataclass(frozen=True, slots=True)
class RuleSet:
    id: str
    title: str
    engine: str
    source: str
    versions: tuple[RuleSetVersion, ...]
    """Ordered by effective_from, strictly increasing."""

    def version_on(self, as_of: date) -> RuleSetVersion | None:
        """The version in force on `as_of`: the latest whose effective_from is on or before it."""
        in_force = [v for v in self.versions if v.effective_from <= as_of]
        return in_force[-1] if in_force else None


RuleSets = Mapping[str, RuleSet]


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    jurisdiction: str
    name: str
    grading_rule_set: str
    service_levels: ServiceLevels


@dataclass(frozen=True, slots=True)
class Explanation:
    """One record that mattered, the rule it triggered and what that did (Chinese, then English)."""

    record_id: str
    department: str
    rule: str
    effect: str
    json: dict[str, str] = field(init=False, compare=False, hash=False, repr=False)
    """Its item of the stored and served explanation (made once: an engine keeps a penalty's lines, and a
    long history's grade names hundreds of them at every event). Shared: never mutate it."""

    def __post_init__(self) -> None:
        item = {"record_id": self.record_id, "department": self.department, "rule": self.rule}
        item["effect"] = self.effect
        object.__setattr__(self, "json", item)


@dataclass(frozen=True, slots=True)
class Assessment:
    """An engine's answer for one day, before evaluate adds `since` (when None) and `next_review`."""

    grade: str
    reason: str
    since: date | None
    supervision_level: str | None
    explanation: tuple[Explanation, ...]


@dataclass(frozen=True, slots=True)
class GradeResult:
    grade: str | None
    """"A"-"D", or None when the rule set does not grade this kind of subject."""
    reason: str
    since: date | None
    """The date the grade took effect (chongqing B-D: the latest qualifying penalty, 000 L193; otherwise the
    first day of the current unbroken run of this grade); None when not known."""
    next_review: date | None
    """The first day on which the grade changes if no new record arrives; None if it never does."""
    supervision_level: str | None
    explanation: tuple[Explanation, ...]
    rule_set: str
    rule_set_version: int | None
    as_of: date
    next_refresh: date | None = None
    """The first day after as_of on which any part of the answer changes (an explanation item leaves the
    look-back window …), even with the grade unchanged: when the stored answer must be recomputed."""
