"""The pure grading rules (DOMAIN §5): rule sets as data (`schemas/rulesets/grading/*.yaml`), a subject's
credit file built from its records, and one small engine per rule set (chongqing-amr, benxi-2017).

No FastAPI, SQLAlchemy, aiokafka or wall clock here; the loader is the only code that reads files.

Checklist when extending:
- a new rule set of an existing engine: add its YAML (file name = id) and a test; nothing else. Every
  version states its `national_repair` (what an approved 准予修复 does to the file).
- a new engine: a module with `assess(file, rule_set, day) -> Assessment`, its rules type in `model`,
  its YAML block in `loader`, and entries in `evaluate.ENGINES` and `evaluate.GRADERS` (its grade alone).
- a new record type the rules must read: `credit_file` (DETAIL_FIELDS for dated records, LIST_SHAPES for
  lists), then name it in the rule sets that use it.
"""

from services.grading.rules.credit_file import CreditFile, build_credit_file, one_year_after, years_after
from services.grading.rules.evaluate import RuleSetLookupError, evaluate, rule_set_version_for
from services.grading.rules.loader import RuleSetError, load_jurisdiction, load_rule_set, load_rule_sets
from services.grading.rules.model import Explanation, GradeResult, Jurisdiction, RuleSet, RuleSets, RuleSetVersion

__all__ = [
    "CreditFile",
    "Explanation",
    "GradeResult",
    "Jurisdiction",
    "RuleSet",
    "RuleSetError",
    "RuleSetLookupError",
    "RuleSetVersion",
    "RuleSets",
    "build_credit_file",
    "evaluate",
    "load_jurisdiction",
    "load_rule_set",
    "load_rule_sets",
    "one_year_after",
    "rule_set_version_for",
    "years_after",
]
