"""专项信用报告 and batch-check answers, both from the credit view or the same inputs (pure).

专项信用报告 replaces the certificates of no violation each department used to issue: one statement per
area (record type) and department, over the three years before the as-of date, from what the public may
see (a revoked or repaired record is not held against the subject, as on the portal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from services.common.amendments import effective_records
from services.common.catalogue import Catalogue
from services.common.records import AcceptedRecord
from services.common.vocabulary import RecordTypeName
from services.reports.rules.view import (
    ADVERSE_TYPES,
    Outcome,
    known_by,
    lists_in_force,
    repaired_records,
    sanctions_for,
    three_years_before,
)

# The areas a 专项信用报告 speaks for (the certificates counties accept it in place of).
AREAS: tuple[str, ...] = (
    RecordTypeName.ADMINISTRATIVE_PENALTY,
    RecordTypeName.SERIOUS_UNTRUSTWORTHY_LISTING,
    RecordTypeName.JUDGMENT_DEFAULTER_LISTING,
    RecordTypeName.ABNORMAL_OPERATION_LISTING,
)


def special_statements(view: Mapping[str, Any], catalogue: Catalogue) -> list[dict[str, Any]]:
    """One statement per (area, department allowed to report it), in catalogue order: ``clean`` or the
    number of records the public version lists."""
    period = view["period"]
    counts: dict[tuple[str, str], int] = {}
    for group in view["records"]:
        counts[(group["record_type"], group["department"])] = len(group["items"])
    statements = []
    for area in AREAS:
        rt = catalogue.record_types.get(area)
        if rt is None:
            continue
        for dept in sorted(rt.departments):
            name = catalogue.departments[dept].name if dept in catalogue.departments else dept
            n = counts.get((area, dept), 0)
            text = (
                f"{period['from']} 至 {period['to']}，无{name}作出的{rt.title}记录。"
                if n == 0
                else f"{period['from']} 至 {period['to']}，有{name}作出的{rt.title}记录 {n} 条（详见信用记录）。"
            )
            statements.append(
                {"area": area, "title": rt.title, "department": dept, "department_name": name, "count": n, "text": text}
            )
    return statements


def check_answer(
    code: str,
    records: Sequence[AcceptedRecord],
    outcomes: Sequence[Outcome],
    *,
    as_of: date,
    matter: str,
    catalogue: Catalogue,
) -> dict[str, Any]:
    """One subject's answer in a batch check (应查必查): ``unknown`` (the exchange has nothing on it),
    ``restricted`` (a measure in force for the matter prohibits or restricts it, or a serious list entry
    is in force), ``attention`` (an adverse record of the last three years neither revoked nor repaired,
    another list entry, or a measure that only asks for strict review), else ``clear``. The same facts as
    the department's credit view, without rendering any record (a check answers 1,000 subjects at once)."""
    known = [r for r in records if known_by(r.received_at, as_of) and r.decision_date <= as_of]
    if not known:
        return {"code": code, "result": "unknown", "name": None, "lists": [], "adverse_records": 0, "measures": []}
    seen = [o for o in outcomes if known_by(o.time, as_of)]
    effective = effective_records(known, keep_revoked=True)
    repaired = repaired_records(seen)
    since = three_years_before(as_of)
    adverse = sum(
        1
        for e in effective
        if e.record.record_type in ADVERSE_TYPES
        and e.amendment.revoked_by is None
        and (e.record.department, e.record.record_id) not in repaired
        and e.record.decision_date >= since
    )
    lists = [entry for entry in lists_in_force(effective, catalogue, "department", as_of) if not entry["red"]]
    measures = sanctions_for(seen, matter, as_of)
    restricting = any(m.get("effect") in ("prohibit", "restrict") for m in measures)
    serious = any(e["list"] in ("严重失信主体名单", "失信被执行人") for e in lists)
    result = "restricted" if restricting or serious else "attention" if adverse or lists or measures else "clear"
    latest = max(known, key=lambda r: (r.decision_date, r.record_id))
    return {
        "code": code,
        "result": result,
        "name": latest.record["subject"].get("name"),
        "lists": [{"list": e["list"], "department": e["department"], "since": e["since"]} for e in lists],
        "adverse_records": adverse,
        "measures": [{"measure_id": m["measure_id"], "name": m["name"], "effect": m["effect"]} for m in measures],
    }
