"""What one subject's records and grade oblige the departments to do, pure (issue 22): patrol and
re-check obligations, commitments due, evaluation consequences, and escalation proposals.

Nothing here reads the clock: every item carries the dates it runs between (an obligation its due date,
a consequence its validity, a proposal the day it becomes a candidate), and the reader filters by its
day. So the stored derivation is a function of the log alone (replay == live).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from services.common.amendments import effective_records
from services.common.legal_document import lacks_legal_document
from services.common.records import AcceptedRecord
from services.common.severity import Severity, SeverityTable, listed_document_numbers, severity_of
from services.common.vocabulary import RecordTypeName
from services.grading.rules.credit_file import build_credit_file, years_after
from services.sanctions.rules.measures import MeasureList, Nature
from services.supervision.rules.composite import CompositeTable, Segment, timeline
from services.supervision.rules.evaluations import Period, composite_periods, evaluation_periods
from services.supervision.rules.model import LEVELS, SupervisionRules

INSPECTION = "inspection_result"
EVALUATION = "credit_evaluation"
LEVEL_RAISE = "supervision_level_raise"
COMMITMENT = "credit_commitment"
VERIFICATION = RecordTypeName.COMMITMENT_VERIFICATION
INTERVIEW = "supervision_interview"
ABNORMAL = "abnormal_operation_listing"
PENALTY = "administrative_penalty"
DUE_COMMITMENTS = frozenset({"容缺受理型", "证明事项告知承诺型", "审批替代型"})
"""Commitments whose acceptance rests on something delivered later (告知承诺 / 容缺受理)."""


def add_months(day: date, months: int) -> date:
    """The same day `months` later, the month's last day when it has no such day (31 Jan + 1 → 28/29 Feb)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class Grade:
    rule_set: str
    grade: str | None
    level: str | None
    since: date


@dataclass(frozen=True, slots=True)
class Obligation:
    department: str
    kind: str  # patrol | revocation_recheck | evaluation_inspections | commitment_due | interview_rectification
    due: date
    since: date
    basis: str
    record_ids: tuple[str, ...] = ()
    done_on: date | None = None
    done_record: str | None = None


@dataclass(frozen=True, slots=True)
class Consequence:
    department: str
    scale: str
    grade: str
    kind: str  # reward | restriction
    text: str
    valid_from: date
    valid_until: date | None
    record_id: str
    source: str


@dataclass(frozen=True, slots=True)
class Proposal:
    department: str
    kind: str  # points_blacklist | abnormal_3y | interview_overdue | commitment_breach
    title: str
    candidate_from: date
    evidence: tuple[str, ...]
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def proposal_id(self) -> str:
        return f"{self.kind}:{self.department}:{self.evidence[0] if self.evidence else '-'}"


@dataclass(frozen=True, slots=True)
class Derived:
    level: str | None
    """The supervision level in force: grading's, or higher where a district raised it (000 L295)."""
    obligations: tuple[Obligation, ...]
    consequences: tuple[Consequence, ...]
    proposals: tuple[Proposal, ...]
    composite: tuple[Segment, ...] = ()
    """The county composite evaluation (公共信用综合评价) over time."""


def _day(value: object) -> date | None:
    return date.fromisoformat(str(value)) if value else None


def effective_level(grade_level: str | None, raises: Sequence[AcceptedRecord]) -> str | None:
    """A district may raise a level, never lower it (000 L295): the strictest of grading's and the raises."""
    levels = [lvl for lvl in [grade_level, *(str(r.data.get("raised_level")) for r in raises)] if lvl in LEVELS]
    return max(levels, key=LEVELS.index) if levels else None


def derive(
    records: Sequence[AcceptedRecord],
    grades: Sequence[Grade],
    rules: SupervisionRules,
    severity: SeverityTable | None = None,
    composite: CompositeTable | None = None,
    measures: MeasureList | None = None,
) -> Derived:
    """`measures`: the measure list, whose `evaluation:` measures are what an evaluation brings (none without)."""
    kept = [e.record for e in effective_records(records)]
    by_type: dict[str, list[AcceptedRecord]] = {}
    for r in sorted(kept, key=lambda r: (r.decision_date, r.record_id)):
        by_type.setdefault(r.record_type, []).append(r)
    inspections = by_type.get(INSPECTION, [])
    obligations: list[Obligation] = []
    level: str | None = None
    for grade in grades:
        sup = rules.rule_sets.get(grade.rule_set)
        if sup is None:
            continue
        level = effective_level(grade.level, by_type.get(LEVEL_RAISE, []))
        mine = [i for i in inspections if i.department == sup.department]
        raises = by_type.get(LEVEL_RAISE, [])
        shorter = min((int(r.data["patrol_months"]) for r in raises if r.data.get("patrol_months")), default=None)
        obligations += _patrol(sup.department, level, grade, mine, sup.patrol_months, shorter)
        obligations += _revocation_rechecks(
            records, sup.department, level, mine, sup.revocation_recheck_months, sup.revocation_licence
        )
    evaluation_obligations = _evaluations(by_type.get(EVALUATION, []), inspections, rules)
    obligations += evaluation_obligations
    commitment_obligations, breaches = _commitments(by_type.get(COMMITMENT, []), by_type.get(VERIFICATION, []), rules)
    obligations += commitment_obligations
    proposals = [*_points(by_type.get(EVALUATION, []), rules), *breaches]
    proposals += _abnormal(by_type.get(ABNORMAL, []), rules)
    if severity is not None:
        proposals += _repeated_light(by_type.get(PENALTY, []), kept, severity, rules)
    interview_obligations, overdue = _interviews(by_type.get(INTERVIEW, []), inspections, rules)
    obligations += interview_obligations
    proposals += overdue
    segments = timeline(records, composite, severity) if composite is not None and severity is not None else []
    periods = evaluation_periods(records)
    if composite is not None and severity is not None:
        periods += composite_periods(records, composite, severity, segments)
    consequences = _consequences(periods, measures, _subject_kind(records)) if measures is not None else []
    return Derived(
        level=level,
        obligations=tuple(obligations),
        consequences=tuple(consequences),
        proposals=tuple(proposals),
        composite=tuple(segments),
    )


def _subject_kind(records: Sequence[AcceptedRecord]) -> str:
    latest = max(records, key=lambda r: (r.decision_date, r.record_id), default=None)
    return str(latest.record["subject"].get("kind") or "legal_person") if latest else "legal_person"


def _consequences(periods: Sequence[Period], measures: MeasureList, subject_kind: str) -> list[Consequence]:
    """The measures of the measure list an evaluation in force brings (rewards and restrictions), with the
    days it is in force: the same reading sanctions answers restriction checks with."""
    out = []
    for p in periods:
        triggers = set(p.triggers())
        for m in measures.measures:
            if triggers.isdisjoint(m.triggers) or subject_kind not in m.subject_kinds:
                continue
            kind = "reward" if m.nature is Nature.REWARD else "restriction"
            source = f"{m.id}（{m.legal_basis.document} {m.legal_basis.provision}）"
            out.append(Consequence(p.department, p.scale, p.grade, kind, m.name, p.since, p.until, p.record_id, source))
    return out


def _first_after(inspections: Sequence[AcceptedRecord], day: date) -> AcceptedRecord | None:
    """The first inspection on or after `day` (its inspected_on, else its decision date)."""
    for i in inspections:
        if (_day(i.data.get("inspected_on")) or i.decision_date) >= day:
            return i
    return None


def _inspected(i: AcceptedRecord) -> date:
    return _day(i.data.get("inspected_on")) or i.decision_date


def _patrol(
    department: str,
    level: str | None,
    grade: Grade,
    inspections: Sequence[AcceptedRecord],
    months: dict[str, int | None],
    raised_months: int | None = None,
) -> list[Obligation]:
    """The next routine patrol: `months` after the last one (or after the level took effect); a district's
    raise may shorten the period (每季度 / 每月, 000 L280), never lengthen it."""
    every = months.get(level or "")
    if raised_months is not None:
        every = raised_months if every is None else min(every, raised_months)
    if every is None:
        return []
    last = max((_inspected(i) for i in inspections), default=None)
    since = max(d for d in (grade.since, last) if d is not None)
    return [
        Obligation(
            department, "patrol", add_months(since, every), since, f"{level} 类监管等级：每 {every} 个月至少巡查一次"
        )
    ]


def _revocation_rechecks(
    records: Sequence[AcceptedRecord],
    department: str,
    level: str | None,
    inspections: Sequence[AcceptedRecord],
    months: int,
    licence: str,
) -> list[Obligation]:
    """Ⅳ after a 吊销营业执照: a re-check within `months` of the revocation (000 L287)."""
    if level != "IV" or not records:
        return []
    kind = records[0].record["subject"].get("kind", "legal_person")
    file = build_credit_file(records, as_of=date.max, subject_kind=str(kind))
    out = []
    for p in file.penalties:
        if not any(a.action == "吊销" and a.names(licence) for a in p.licence_actions):
            continue
        done = _first_after(inspections, p.decided_on)
        out.append(
            Obligation(
                department,
                "revocation_recheck",
                add_months(p.decided_on, months),
                p.decided_on,
                f"Ⅳ类监管等级：吊销{licence}之日起 {months} 个月内案后回查（000 L287）",
                (p.record_id,),
                _inspected(done) if done else None,
                done.record_id if done else None,
            )
        )
    return out


def _evaluations(
    evaluations: Sequence[AcceptedRecord], inspections: Sequence[AcceptedRecord], rules: SupervisionRules
) -> list[Obligation]:
    """安全生产 4 / 纳税 D: the evaluating department's inspections, every 12/n months from the last one."""
    obligations: list[Obligation] = []
    for e in evaluations:
        scale = rules.evaluation_scales.get(str(e.data.get("scale")))
        grade = str(e.data.get("grade", ""))
        if scale is None or grade not in scale.consequences:
            continue
        c = scale.consequences[grade]
        start = _day(e.data.get("valid_from")) or e.decision_date
        every = 12 // c.inspections_per_year
        mine = [i for i in inspections if i.department == scale.department]
        last = max((_inspected(i) for i in mine if _inspected(i) >= start), default=start)
        obligations.append(
            Obligation(
                scale.department,
                "evaluation_inspections",
                add_months(last, every),
                last,
                f"{scale_name(rules, scale)} {grade}：每年检查不少于 {c.inspections_per_year} 次（{c.source}）",
                (e.record_id,),
            )
        )
    return obligations


def scale_name(rules: SupervisionRules, scale: object) -> str:
    return next(name for name, s in rules.evaluation_scales.items() if s is scale)


def _points(evaluations: Sequence[AcceptedRecord], rules: SupervisionRules) -> list[Proposal]:
    """12 points in one 3-year credit cycle (002 L175): the first day the points of the records within
    `cycle_years` before it reach the threshold, proposed once."""
    out = []
    for rule in rules.points_rules:
        scored = [
            (e.decision_date, int(e.data.get("points") or 0), e.record_id)
            for e in evaluations
            if e.data.get("scale") == rule.scale
        ]
        for i, (day, _, _) in enumerate(scored):
            window = [s for s in scored[: i + 1] if years_after(s[0], rule.cycle_years) >= day]
            total = sum(p for _, p, _ in window)
            if total >= rule.threshold:
                out.append(
                    Proposal(
                        rule.deciding_department,
                        "points_blacklist",
                        rule.proposal,
                        day,
                        tuple(r for _, _, r in window),
                        {
                            "points": total,
                            "threshold": rule.threshold,
                            "cycle_years": rule.cycle_years,
                            "proposed_until": years_after(day, rule.proposed_years).isoformat(),
                            "source": rule.source,
                        },
                    )
                )
                break
    return out


def _commitments(
    commitments: Sequence[AcceptedRecord], verifications: Sequence[AcceptedRecord], rules: SupervisionRules
) -> tuple[list[Obligation], list[Proposal]]:
    """告知承诺 / 容缺受理: delivery due at `fulfilment_deadline`, done by a 履行, a 违诺 or a 核查
    (commitment_verification) of the same number. A 核查 不符合承诺 puts the breach decision in the accepting
    department's 待办; a 违诺 opens the measures the catalogue names for the matter there. A 违诺 naming no
    legally effective document (a v1 record, 001 L646) is still listed, marked as not yet actionable."""
    by_no: dict[str, list[AcceptedRecord]] = {}
    for c in commitments:
        by_no.setdefault(str(c.data.get("commitment_no")), []).append(c)
    checks: dict[str, list[AcceptedRecord]] = {}
    for v in verifications:
        checks.setdefault(str(v.data.get("commitment_no")), []).append(v)
    obligations, proposals = [], []
    for number, events in sorted(by_no.items()):
        made = next((c for c in events if c.data.get("event") == "作出"), None)
        kept = next((c for c in events if c.data.get("event") == "履行"), None)
        broken = next((c for c in events if c.data.get("event") == "违诺"), None)
        checked = checks.get(number, [])
        failed = next((v for v in checked if v.data.get("result") == "不符合承诺"), None)
        if (
            made is not None
            and made.data.get("commitment_kind") in DUE_COMMITMENTS
            and made.data.get("fulfilment_deadline")
        ):
            entry = rules.commitment(str(made.data.get("matter")))
            closing = [r for r in (kept, broken, *checked) if r is not None]
            closed = min(closing, key=_closed_on) if closing else None
            obligations.append(
                Obligation(
                    made.department,
                    "commitment_due",
                    date.fromisoformat(str(made.data["fulfilment_deadline"])),
                    made.decision_date,
                    f"{made.data.get('commitment_kind')}「{number}」：{entry.delivers}；核查方式：{entry.verification}",
                    (made.record_id,),
                    _closed_on(closed) if closed else None,
                    closed.record_id if closed else None,
                )
            )
        if failed is not None and broken is None:
            entry = rules.commitment(str(failed.data.get("matter")))
            proposals.append(
                Proposal(
                    failed.department,
                    "commitment_unfulfilled",
                    "承诺核查不符合：依法认定违诺（载明文书）后启动承诺目录所列措施",
                    failed.decision_date,
                    (failed.record_id, *([made.record_id] if made else [])),
                    {
                        "commitment_no": number,
                        "matter": failed.data.get("matter"),
                        "findings": failed.data.get("findings"),
                        "measures": entry.on_breach,
                        "source": entry.source,
                    },
                )
            )
        if broken is not None:
            entry = rules.commitment(str(broken.data.get("matter")))
            undocumented = lacks_legal_document(COMMITMENT, broken.data)
            proposals.append(
                Proposal(
                    broken.department,
                    "commitment_breach",
                    "违背信用承诺：启动承诺目录所列措施"
                    if not undocumented
                    else "违背信用承诺（未载明生效文书，001 L646）：补报文书后方可启动承诺目录所列措施",
                    broken.decision_date,
                    (broken.record_id, *([made.record_id] if made else [])),
                    {
                        "commitment_no": number,
                        "matter": broken.data.get("matter"),
                        "measures": entry.on_breach,
                        "document_kind": broken.data.get("document_kind"),
                        "document_no": broken.data.get("document_no"),
                        "document_missing": undocumented,
                        "related_record_id": (made or broken).data.get("related_record_id"),
                        "verification_record_id": failed.record_id if failed else None,
                        "source": entry.source,
                    },
                )
            )
    return obligations, proposals


def _closed_on(record: AcceptedRecord) -> date:
    return _day(record.data.get("verified_on")) or record.decision_date


@dataclass(frozen=True, slots=True)
class OverdueAlert:
    """A commitment's delivery past its due date, for the accepting department (one per commitment)."""

    alert_id: str
    department: str
    due: date
    record_id: str
    basis: str
    done_on: date | None


def overdue_alerts(obligations: Sequence[Obligation], today: date) -> list[OverdueAlert]:
    """告知承诺 / 容缺受理 items whose due date passed before `today` undone (or done only after it): the
    alert the accepting department gets. The same for a live service on the day and a replay after it."""
    return [
        OverdueAlert(f"commitment_overdue:{o.department}:{o.record_ids[0]}", o.department, o.due, o.record_ids[0],
                     o.basis, o.done_on)
        for o in obligations
        if o.kind == "commitment_due" and o.record_ids and o.due < today and (o.done_on is None or o.done_on > o.due)
    ]  # fmt: skip


def _abnormal(listings: Sequence[AcceptedRecord], rules: SupervisionRules) -> list[Proposal]:
    """Three years in the abnormal-operation list without leaving it (002 L108): a candidate for the
    严重违法失信 list from the day the three years are up, until a 移出."""
    years = rules.escalations.abnormal_operation_years
    out = []
    entries = [r for r in listings if r.data.get("action") == "列入"]
    exits = [r for r in listings if r.data.get("action") == "移出"]
    for entry in entries:
        up = years_after(entry.decision_date, years) + timedelta(days=1)
        if any(entry.decision_date <= x.decision_date < up for x in exits):
            continue
        out.append(
            Proposal(
                rules.escalations.abnormal_operation_department,
                "abnormal_3y",
                f"列入经营异常名录满 {years} 年未移出：拟列入严重违法失信名单",
                up,
                (entry.record_id,),
                {"listed_on": entry.decision_date.isoformat(), "source": "002 L108"},
            )
        )
    return out


def _interviews(
    interviews: Sequence[AcceptedRecord], inspections: Sequence[AcceptedRecord], rules: SupervisionRules
) -> tuple[list[Obligation], list[Proposal]]:
    """约谈 with a 整改 deadline: a check of the rectification due by then; none by then → a proposal (003 L75)."""
    if not rules.escalations.interview_overdue:
        return [], []
    obligations, proposals = [], []
    for i in interviews:
        deadline = _day(i.data.get("rectification_deadline"))
        if deadline is None:
            continue
        mine = [x for x in inspections if x.department == i.department]
        done = _first_after(mine, i.decision_date)
        done_on = _inspected(done) if done else None
        obligations.append(
            Obligation(
                i.department,
                "interview_rectification",
                deadline,
                i.decision_date,
                f"约谈整改期限 {deadline.isoformat()}（003 L75）",
                (i.record_id,),
                done_on,
                done.record_id if done else None,
            )
        )
        if done_on is None or done_on > deadline:
            proposals.append(
                Proposal(
                    i.department,
                    "interview_overdue",
                    "约谈整改期限届满未见整改核查：拟采取进一步惩戒措施",
                    deadline + timedelta(days=1),
                    (i.record_id,),
                    {"deadline": deadline.isoformat(), "source": "003 L75"},
                )
            )
    return obligations, proposals


def _repeated_light(
    penalties: Sequence[AcceptedRecord],
    kept: Sequence[AcceptedRecord],
    severity: SeverityTable,
    rules: SupervisionRules,
) -> list[Proposal]:
    """多次发生同一类型轻微失信行为 (004 L73): the first day on which one department's 轻微 penalties for the
    same 违法行为 within the window reach the count puts one proposal in that department's 待办."""
    esc = rules.escalations
    listed = listed_document_numbers(kept)
    groups: dict[tuple[str, str], list[tuple[date, str]]] = {}
    for p in penalties:
        if severity_of(p, severity, listed_documents=listed).severity is not Severity.MINOR:
            continue
        day = _day(p.data.get("CF_JDRQ")) or p.decision_date
        groups.setdefault((p.department, str(p.data.get("CF_WFXW") or "")), []).append((day, p.record_id))
    out = []
    for (department, violation), found in sorted(groups.items()):
        found.sort()
        for i, (day, _) in enumerate(found):
            window = [f for f in found[: i + 1] if years_after(f[0], esc.repeated_light_years) >= day]
            if len(window) >= esc.repeated_light_count:
                out.append(
                    Proposal(
                        department,
                        "repeated_light",
                        "多次发生同一类型轻微失信行为：可视情节加大监管力度",
                        day,
                        tuple(r for _, r in window),
                        {"violation": violation, "count": len(window), "source": "004 L73"},
                    )
                )
                break
    return out
