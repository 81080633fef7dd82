"""The supervision data (schemas/rulesets/supervision/supervision.yaml), validated at start: sampling
ratios and patrol frequencies per grading rule set, evaluation scales with their consequences, the
points rules, the escalation thresholds and the commitment catalogue. Pure: no I/O except `load`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.common.severity import SeverityTable, load_severity_table
from services.common.yaml_files import read_yaml
from services.sanctions.rules.measures import MEASURES_FILE, MeasureList, check_evaluation_triggers, load_measure_list
from services.supervision.rules.composite import CompositeTable, load_composite
from services.supervision.rules.evaluations import scale_grades

SUPERVISION_FILE = Path("rulesets/supervision/supervision.yaml")
LEVELS = ("I", "II", "III", "IV")
Ratio = Annotated[float, Field(ge=0, le=1)]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSetSupervision(_Closed):
    department: str
    ratios: dict[str, Ratio]
    default_ratio: Ratio
    patrol_months: dict[str, int | None] = Field(default_factory=dict)
    revocation_recheck_months: int = Field(default=3, gt=0)
    revocation_licence: str = "营业执照"
    result_entry_working_days: int = Field(default=2, ge=0)

    @model_validator(mode="after")
    def _levels(self) -> RuleSetSupervision:
        unknown = set(self.patrol_months) - set(LEVELS)
        if unknown:
            raise ValueError(f"patrol_months names unknown levels {sorted(unknown)}")
        for stratum in self.ratios:
            grade, _, level = stratum.partition("/")
            if not grade or level not in (*LEVELS, "-"):
                raise ValueError(f"ratio key {stratum!r} is not <grade>/<level>")
        return self

    def ratio(self, stratum: str) -> float:
        return self.ratios.get(stratum, self.default_ratio)


class Consequence(_Closed):
    """What a grade obliges the evaluating department to do. The rewards and restrictions a grade brings are
    measures of the measure list (`evaluation:<scale>:<grade>` triggers in schemas/measures.yaml), not here."""

    inspections_per_year: int = Field(gt=0)
    source: str


class EvaluationScale(_Closed):
    department: str
    grades: list[str]
    consequences: dict[str, Consequence]

    @model_validator(mode="after")
    def _graded(self) -> EvaluationScale:
        unknown = set(self.consequences) - set(self.grades)
        if unknown:
            raise ValueError(f"consequences for grades the scale does not have: {sorted(unknown)}")
        return self


class PointsRule(_Closed):
    scale: str
    threshold: int = Field(gt=0)
    cycle_years: int = Field(gt=0)
    proposal: str
    proposed_years: int = Field(gt=0)
    deciding_department: str
    source: str


class Escalations(_Closed):
    abnormal_operation_years: int = Field(gt=0)
    abnormal_operation_department: str
    interview_overdue: bool
    repeated_light_count: int = Field(ge=2)
    repeated_light_years: int = Field(gt=0)
    severity_table: str
    """Path of the shared severity table, relative to the supervision file."""


class CommitmentEntry(_Closed):
    delivers: str
    verification: str
    on_breach: list[str] = Field(min_length=1)
    source: str


class SupervisionRules(_Closed):
    version: str
    rule_sets: dict[str, RuleSetSupervision]
    evaluation_scales: dict[str, EvaluationScale]
    points_rules: list[PointsRule]
    escalations: Escalations
    commitments: dict[str, CommitmentEntry]
    composite_evaluation: str | None = None
    """Path of the county composite evaluation table (公共信用综合评价), relative to the supervision file;
    a `rule_sets` entry of its id draws plans by its bands."""

    @model_validator(mode="after")
    def _references(self) -> SupervisionRules:
        for rule in self.points_rules:
            if rule.scale not in self.evaluation_scales:
                raise ValueError(f"points rule names unknown scale {rule.scale!r}")
        if "default" not in self.commitments:
            raise ValueError("the commitment catalogue needs a `default` entry")
        return self

    def commitment(self, matter: str) -> CommitmentEntry:
        return self.commitments.get(matter, self.commitments["default"])

    def departments(self) -> set[str]:
        named = {r.department for r in self.rule_sets.values()}
        named |= {s.department for s in self.evaluation_scales.values()}
        named |= {p.deciding_department for p in self.points_rules}
        return named | {self.escalations.abnormal_operation_department}


def load_severity(schemas_dir: Path, rules: SupervisionRules) -> SeverityTable:
    """The shared 轻微 / 一般 / 严重 table the repeated-light escalation counts with."""
    return load_severity_table(((schemas_dir / SUPERVISION_FILE).parent / rules.escalations.severity_table).resolve())


def load_composite_table(schemas_dir: Path, rules: SupervisionRules) -> CompositeTable | None:
    """The 公共信用综合评价 table the supervision file names, if any."""
    if rules.composite_evaluation is None:
        return None
    return load_composite(((schemas_dir / SUPERVISION_FILE).parent / rules.composite_evaluation).resolve())


def load_measures(schemas_dir: Path, departments: set[str], rules: SupervisionRules) -> MeasureList:
    """The measure list, its `evaluation:` triggers checked against these scales and the composite's bands."""
    measures = load_measure_list(schemas_dir / MEASURES_FILE, departments=departments)
    grades = {name: scale.grades for name, scale in rules.evaluation_scales.items()}
    check_evaluation_triggers(measures, scale_grades(grades, load_composite_table(schemas_dir, rules)))
    return measures


def load(schemas_dir: Path, departments: set[str] | None = None) -> SupervisionRules:
    """Raises ValueError (pydantic's ValidationError is one) on any problem of the file."""
    raw = read_yaml(schemas_dir / SUPERVISION_FILE)
    rules = SupervisionRules.model_validate(raw)
    if departments is not None:
        unknown = rules.departments() - departments
        if unknown:
            raise ValueError(f"{SUPERVISION_FILE}: departments not in the catalogue: {sorted(unknown)}")
    return rules
