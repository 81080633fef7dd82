"""Pure rules of the sanctions service (联合奖惩, DOMAIN §6).

- :mod:`.measures` — the measure list (`schemas/measures.yaml`) loaded and validated into frozen data;
  the only module here that reads a file.
- :mod:`.cases` — triggers from a subject's records, applicable measures, case state, the restriction
  answer (应查必查), instructions per implementing department and related-person restrictions.

No FastAPI, SQLAlchemy, aiokafka or wall clock: the handlers pass records, the list and an as-of date.

Checklist when extending: a new trigger record type → `_SPECS` in cases.py and `RECORD_TRIGGERS` in
measures.py; a new condition fact → `CONDITION_FACTS` and the spec's `facts`; a new matter → the
vocabulary at the top of `schemas/measures.yaml`.
"""

from services.sanctions.rules.cases import (
    COURT,
    RED_LIST,
    SERIOUS,
    Case,
    CaseState,
    Instruction,
    PersonRestriction,
    RelatedPerson,
    Trigger,
    applicable_measures,
    case_state,
    derived_trigger,
    in_notice_period,
    instructions_for,
    lift_reason,
    measure_until,
    open_case,
    related_person_restrictions,
    restriction_answer,
    trigger_history,
    triggers_of,
)
from services.sanctions.rules.measures import (
    Category,
    Effect,
    Kind,
    LegalBasis,
    Measure,
    MeasureList,
    MeasureListError,
    Nature,
    default_measures_path,
    load_measure_list,
    parse_measure_list,
)

__all__ = [
    "COURT",
    "RED_LIST",
    "SERIOUS",
    "Case",
    "CaseState",
    "Category",
    "Effect",
    "Instruction",
    "Kind",
    "LegalBasis",
    "Measure",
    "MeasureList",
    "MeasureListError",
    "Nature",
    "PersonRestriction",
    "RelatedPerson",
    "Trigger",
    "applicable_measures",
    "case_state",
    "default_measures_path",
    "derived_trigger",
    "in_notice_period",
    "instructions_for",
    "lift_reason",
    "load_measure_list",
    "measure_until",
    "open_case",
    "parse_measure_list",
    "related_person_restrictions",
    "restriction_answer",
    "trigger_history",
    "triggers_of",
]
