"""benxi-2017: 本溪市企业综合信用等级 A/B/C/D (seed 004 L35-L57; DOMAIN §5).

- A: has 优良信誉信息 and no 不良行为信息 (004 L41).
- B: neither (004 L43).
- C: has 不良行为信息 (004 L45).
- D: has a serious-untrustworthy record that caused serious social impact (004 L47): an entry of a
  `serious` list in force with `causes_serious_social_impact: true`. The same entry without that impact
  is only adverse (C).

- Light adverse records (the rule set's `light` block: 轻微 penalties of the shared severity table, 重点关注名单
  entries) bar A but never make C: alone they give `light.grade` (B, whose consequence is 004 L55's
  "予以重点关注"). 国办发〔2020〕49号 forbids heavy sanctions for small faults (001 L657, L666; 004 L73) and the
  watch list is "without joint sanctions" (001 L619).
- An adverse watch-list entry or 违诺 counts against the subject only with a legally effective document
  (`document_no`, 001 L646: services.common.legal_document, the exchange's one statement of that rule, which
  ingest's warning and sanctions' clean record also ask): a v1 one without it counts for nothing.
- A national repair removes a penalty as the rule set's `national_repair` says; a repaired record is gone.

What counts is data (the rule set's `positive`, `adverse`, `serious` blocks): dated records (行政奖励,
penalties …) count when decided within the look-back window (one year, DOMAIN §5), list entries (红名单,
经营异常名录, 失信被执行人 …) while they are in force on the day. `since` and `next_review` are left to
evaluate, which derives them from the same rules.
"""

from __future__ import annotations

from datetime import date

from services.common.legal_document import needs_legal_document
from services.common.vocabulary import RecordTypeName
from services.grading.rules.credit_file import CreditFile, Listing, Mark, within_years
from services.grading.rules.model import Assessment, BenxiRules, Explanation, RecordRule, RuleSetVersion

_TYPE_NAMES: dict[str, str] = {
    RecordTypeName.ADMINISTRATIVE_PENALTY: "行政处罚",
    RecordTypeName.ADMINISTRATIVE_ACTION: "行政行为",
    RecordTypeName.CREDIT_COMMITMENT: "信用承诺",
    RecordTypeName.INSPECTION_RESULT: "抽查检查结果",
    RecordTypeName.SUPERVISION_INTERVIEW: "约谈",
    RecordTypeName.ABNORMAL_OPERATION_LISTING: "经营异常名录",
    RecordTypeName.JUDGMENT_DEFAULTER_LISTING: "失信被执行人名单",
    RecordTypeName.SERIOUS_UNTRUSTWORTHY_LISTING: "严重失信主体名单",
    RecordTypeName.RED_LIST: "红名单",
    RecordTypeName.WATCH_LIST: "重点关注名单",
}
_REASONS: dict[str, str] = {
    "A": "A：有优良信誉信息记录，且无不良行为信息记录（004 L41）(A: a good-standing record and no adverse record)",
    "B": "B：无优良信誉信息记录，且无不良行为信息记录（004 L43）(B: neither a good-standing nor an adverse record)",
    "C": "C：有不良行为信息记录（004 L45）(C: an adverse record)",
    "D": "D：有严重失信行为造成严重社会影响的信息记录（004 L47）"
    "(D: serious untrustworthy conduct that caused serious social impact)",
}
_LIGHT_REASON = (
    "{grade}：仅有轻微不良记录（轻微处罚、重点关注名单），不评 A，亦不评 C（国办发〔2020〕49号，001 L657、L666；"
    "001 L619）({grade}: only light adverse records, which bar A but never make C)"
)


def _matching(marks: tuple[Mark, ...], selected: tuple[RecordRule, ...], day: date, years: int) -> list[Mark]:
    return [
        m
        for m in marks
        if within_years(m.decided_on, day, years) and any(r.matches(m.record_type, m.details) for r in selected)
    ]


def _undocumented(item: Mark | Listing) -> bool:
    return needs_legal_document(item.record_type) and not item.document_no


def _in_force(listings: tuple[Listing, ...], types: frozenset[str], day: date) -> list[Listing]:
    return [x for x in listings if x.record_type in types and x.in_force(day)]


def assess(file: CreditFile, rule_set: RuleSetVersion, day: date) -> Assessment:
    rules = rule_set.rules
    if not isinstance(rules, BenxiRules):
        raise TypeError(f"rule set {rule_set.rule_set_id} is not a benxi rule set")
    years = rule_set.look_back_years
    marks = file.marks
    if rule_set.national_repair.removes_record:
        marks = tuple(m for m in marks if not m.repaired)
    serious = [x for x in _in_force(file.listings, rules.serious_lists, day) if x.serious_social_impact]
    serious_ids = {x.record_id for x in serious}
    found_marks = _matching(marks, rules.adverse_records, day, years)
    found_lists = [x for x in _in_force(file.listings, rules.adverse_lists, day) if x.record_id not in serious_ids]
    undocumented: list[Mark | Listing] = [m for m in found_marks if _undocumented(m)]
    undocumented += [x for x in found_lists if _undocumented(x)]
    adverse_marks = [m for m in found_marks if not _undocumented(m)]
    adverse_lists = [x for x in found_lists if not _undocumented(x)]
    light_marks = [m for m in adverse_marks if m.severity in rules.light_penalty_severities]
    light_lists = [x for x in adverse_lists if x.record_type in rules.light_lists]
    heavy = len(adverse_marks) + len(adverse_lists) > len(light_marks) + len(light_lists)
    positive_marks = _matching(marks, rules.positive_records, day, years)
    positive_lists = _in_force(file.listings, rules.positive_lists, day)

    if serious:
        grade = "D"
    elif heavy:
        grade = "C"
    elif adverse_marks or adverse_lists:
        grade = rules.light_grade
    elif positive_marks or positive_lists:
        grade = "A"
    else:
        grade = "B"

    notes: list[tuple[date, Explanation]] = []
    for listing in serious:
        rule = f"{_TYPE_NAMES[listing.record_type]}「{listing.name}」，造成严重社会影响（004 L47）"
        notes.append((listing.start, Explanation(listing.record_id, listing.department, rule, "D")))
    adverse_effect = "C" if grade == "C" else f"不良记录，已被 {grade} 级吸收 (adverse, outweighed by {grade})"
    light_effect = adverse_effect
    if not heavy and not serious:
        light_effect = f"{grade}：轻微不良记录不评 A、不致 C (light adverse record: bars A, never C)"
    light_why = "轻微失信不得从重惩戒（国办发〔2020〕49号；001 L657、L666；004 L73）"
    for mark in adverse_marks:
        if mark in light_marks:
            rule = f"{_describe(mark)}：{mark.severity}，{light_why}"
            notes.append((mark.decided_on, Explanation(mark.record_id, mark.department, rule, light_effect)))
        else:
            rule = f"{_describe(mark)}：不良行为信息（004 L45）"
            notes.append((mark.decided_on, Explanation(mark.record_id, mark.department, rule, adverse_effect)))
    for listing in adverse_lists:
        if listing in light_lists:
            rule = f"{_TYPE_NAMES[listing.record_type]}「{listing.name}」在列：不实施联合惩戒（001 L619），{light_why}"
            notes.append((listing.start, Explanation(listing.record_id, listing.department, rule, light_effect)))
        else:
            rule = f"{_TYPE_NAMES[listing.record_type]}「{listing.name}」在列：不良行为信息（004 L45）"
            notes.append((listing.start, Explanation(listing.record_id, listing.department, rule, adverse_effect)))
    for item in undocumented:
        start = item.decided_on if isinstance(item, Mark) else item.start
        what = _describe(item) if isinstance(item, Mark) else f"{_TYPE_NAMES[item.record_type]}「{item.name}」"
        rule = f"{what}：无生效法律文书（未报文书号），不作为不良信息（001 L646）"
        effect = "不计入 (not counted: no legally effective document)"
        notes.append((start, Explanation(item.record_id, item.department, rule, effect)))
    positive_effect = "A" if grade == "A" else "优良记录，但有不良记录，不评 A (good record, but an adverse one bars A)"
    for mark in positive_marks:
        rule = f"{_describe(mark)}：优良信誉信息（004 L41）"
        notes.append((mark.decided_on, Explanation(mark.record_id, mark.department, rule, positive_effect)))
    for listing in positive_lists:
        rule = f"{_TYPE_NAMES[listing.record_type]}「{listing.name}」在列：优良信誉信息（004 L41）"
        notes.append((listing.start, Explanation(listing.record_id, listing.department, rule, positive_effect)))
    ordered = tuple(e for _, e in sorted(notes, key=lambda n: (n[0], n[1].record_id, n[1].rule)))
    reason = (
        _LIGHT_REASON.format(grade=grade)
        if grade == rules.light_grade and not heavy and not serious and (adverse_marks or adverse_lists)
        else _REASONS[grade]
    )
    return Assessment(grade, reason, None, None, ordered)


def _describe(mark: Mark) -> str:
    return f"{mark.decided_on} {_TYPE_NAMES[mark.record_type]}（{'、'.join(sorted(mark.details))}）"
