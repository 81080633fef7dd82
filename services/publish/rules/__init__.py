"""Pure rules of the publish service (DOMAIN §7-§8): publicity periods, severity, masking, disclosure.

Files and symbols:
- severity (re-exported from ``services/common/severity.py``, which grading shares): :func:`severity_of`
  (轻微 / 一般 / 严重 of a penalty, table in ``schemas/rulesets/publicity/severity.yaml``),
  :func:`listed_document_numbers`.
- ``publicity.py``: :func:`load_publicity_rules` (``schemas/rulesets/publicity/*.yaml``),
  :func:`publicity_window` (rule set by decision date, minimum/maximum end), :func:`add_months`.
- ``masking.py``: :func:`public_view` (public and masked fields only; deny by default).
- ``minors.py``: :func:`minor_on_decision` (citizen ID, else ``subject.birth_date``; None = age unknown),
  :func:`hide_name` (the name of a person of unknown age, wherever it appears).
- ``disclosure.py``: :func:`should_publish`, :func:`disclosure_state` (7-working-day clock).
- ``lists.py``: :data:`LIST_RULES`, :func:`list_decisions` (名单 entries published while in force; no
  7-working-day clock), :func:`list_events` (what the county platform learns on ``outcomes.lists``).

Checklist when extending: a new disclosure type needs an entry under ``record_types`` in every rule set
(or it is not published, with a reason); a new 处罚类别 needs a line in ``severity.yaml``
(unknown kinds count as the table's default); a new ``masked`` field needs a masking rule in
``masking.py`` (until then it is left out); a new rule set must continue the decision-date ranges
without overlap or gap (the loader refuses otherwise).
"""

from services.common.severity import (
    Severity,
    SeverityResult,
    SeverityTable,
    listed_document_numbers,
    severity_of,
    subject_kind_of,
)
from services.publish.rules.disclosure import (
    ClockState,
    Decision,
    DisclosureState,
    Responsible,
    disclosure_state,
    should_publish,
)
from services.publish.rules.lists import (
    LIST_RULES,
    ListDecision,
    ListRule,
    list_decisions,
    list_events,
    list_rule,
    shown_persons,
)
from services.publish.rules.masking import public_view, shared_view
from services.publish.rules.minors import HIDDEN_NAME, hide_name, minor_on_decision
from services.publish.rules.publicity import (
    PublicityRules,
    PublicityRulesError,
    PublicityRuleSet,
    PublicityWindow,
    add_months,
    load_publicity_rules,
    publicity_window,
)

__all__ = [
    "HIDDEN_NAME",
    "LIST_RULES",
    "ClockState",
    "Decision",
    "DisclosureState",
    "ListDecision",
    "ListRule",
    "PublicityRuleSet",
    "PublicityRules",
    "PublicityRulesError",
    "PublicityWindow",
    "Responsible",
    "Severity",
    "SeverityResult",
    "SeverityTable",
    "add_months",
    "disclosure_state",
    "hide_name",
    "list_decisions",
    "list_events",
    "list_rule",
    "listed_document_numbers",
    "load_publicity_rules",
    "minor_on_decision",
    "public_view",
    "publicity_window",
    "severity_of",
    "shared_view",
    "should_publish",
    "shown_persons",
    "subject_kind_of",
]
