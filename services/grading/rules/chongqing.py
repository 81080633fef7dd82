"""chongqing-amr: 重庆市工商局《市场主体信用分类监管实施办法》 (seed 000 L169-L297; DOMAIN §5).

- A 守信: no qualifying penalty of a counted department (AMR) within one year (000 L181-L182).
- B 警示: a warning, or a fine / confiscated gains / confiscated property of at most the threshold
  (30,000 yuan; individual businesses 1,000), within one year (000 L184-L185). Penalty kinds the rules
  do not name (通报批评, 暂扣许可证件, 吊销 of a licence other than the 营业执照 …) also give B (DOMAIN).
- C 一般失信: any such amount above the threshold (以上 excludes the number, 000 L187-L188). Every amount
  is compared on its own, never summed.
- D 严重失信: under any law, by any department (000 L190): the serious penalties of the rule set.
- The worst grade wins (000 L193). B and C are repaired one year after grading, and any new qualifying
  penalty, even a milder one, restarts that year (000 L195): the penalties whose repair periods run
  into each other form a chain; the chain's worst B/C holds until one year after its latest penalty.
- D from 责令停业整顿 / 责令停业 is repaired one year after business resumes (a 恢复营业 registration after
  the penalty); other D never (000 L196).
- `since`: B/C the latest penalty of the chain (000 L193 "最近一次…处罚记录被认定之日"); D the latest penalty
  whose D is in force; A is left to evaluate (the first day of the current run of A).
- Supervision level Ⅰ-Ⅳ from the rule set's table (000 L257-L295); see `_supervision`.
"""

from __future__ import annotations

import operator
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter

from services.common.vocabulary import RecordTypeName
from services.grading.rules.credit_file import (
    CONFISCATION_FIELDS,
    DAY,
    LICENCE_VERBS,
    CreditFile,
    Mark,
    Penalty,
    Registration,
    years_after,
)
from services.grading.rules.model import (
    LEVELS,
    Assessment,
    ChongqingRules,
    Explanation,
    RuleSetVersion,
    SeriousPenalty,
    worst,
)

_KIND_ENGLISH = {
    "警告": "warning",
    "罚款": "fine",
    "没收违法所得": "confiscated gains",
    "没收非法财物": "confiscated property",
}
LEVEL_RAISE = RecordTypeName.SUPERVISION_LEVEL_RAISE
_LICENCE_KINDS = frozenset({"暂扣许可证件", "吊销许可证件"})
_REASONS = {
    "A": "A 守信：一年内无计入部门（{depts}）的处罚记录（000 L181-L182）(A: no counted penalty within one year)",
    "B": "B 警示：一年内受到警告或不超过 {t} 元的罚款、没收等处罚（000 L184-L185）"
    "(B: warning or fine/confiscation of at most {t} yuan within one year)",
    "C": "C 一般失信：一年内受到超过 {t} 元的罚款或没收（000 L187-L188）"
    "(C: fine or confiscation above {t} yuan within one year)",
    "D": "D 严重失信：{named}（000 L190）(D: {english})",
}


@dataclass(frozen=True, slots=True)
class _Hit:
    grade: str
    rule: str
    serious_repairable: bool | None = None
    """For D hits: whether it is repaired one year after business resumes; None for B/C hits."""
    named_as: str = ""
    english: str = ""


@dataclass(frozen=True, slots=True)
class _Score:
    """What a penalty's classification gives, without the penalty: kept in the penalty's memo, which must
    not refer back to the penalty (a cycle would leave a dropped record to the cyclic collector, whose full
    collections walk the whole kept state; docs/decisions.md, issue 18 — reference cycles)."""

    hits: tuple[_Hit, ...]
    serious: tuple[_Hit, ...] = field(init=False)
    """The D hits."""
    bc: str | None = field(init=False)
    """The worst B/C hit's grade."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "serious", tuple(h for h in self.hits if h.serious_repairable is not None))
        object.__setattr__(self, "bc", worst(h.grade for h in self.hits if h.serious_repairable is None))


@dataclass(frozen=True, slots=True)
class _Scored:
    """A penalty with its `_Score`, made on each read of the memo (never kept in the penalty's memo)."""

    penalty: Penalty
    score: _Score

    @property
    def hits(self) -> tuple[_Hit, ...]:
        return self.score.hits

    @property
    def serious(self) -> tuple[_Hit, ...]:
        return self.score.serious

    @property
    def bc(self) -> str | None:
        return self.score.bc


def classify(penalty: Penalty, rules: ChongqingRules, subject_kind: str) -> tuple[_Hit, ...]:
    """Every grade one penalty gives, with the rule that gives it (empty: the penalty does not qualify)."""
    hits: list[_Hit] = []
    named: set[str] = set()
    for serious in rules.serious_penalties.get(subject_kind, ()):
        licence = penalty.licence or ""
        if serious.kind in penalty.kinds and (not serious.licence_names or _acts_on(penalty, serious)):
            named.add(serious.kind)
            licence_note = f"：{licence}" if serious.licence_names else ""
            rule = f"{serious.named_as}（处罚类别 {serious.kind}{licence_note}；000 L190）"
            hits.append(_Hit("D", rule, serious.repairable_after_resumption, serious.named_as, serious.english))
    if penalty.department not in rules.counted_departments:
        return tuple(hits)
    threshold = rules.thresholds_yuan[subject_kind]
    for kind in sorted(penalty.kinds - named):
        if kind in rules.warning_kinds:
            hits.append(_Hit("B", f"{kind}（000 L184-L185）(warning)"))
        elif kind in rules.amount_kinds:
            amount = penalty.amounts_yuan.get(rules.amount_kinds[kind])
            if amount is None:
                hits.append(_Hit("B", f"{kind}，金额未报（视为不超过 {threshold:,} 元）(amount missing)"))
                continue
            above = amount > threshold
            relation = ">" if above else "≤"
            lines = "000 L187-L188" if above else "000 L184-L185"
            english = _KIND_ENGLISH.get(kind, kind)
            half = ""
            if penalty.split_estimated and rules.amount_kinds[kind] in CONFISCATION_FIELDS.values():
                # v1 has one field for both confiscations; amounts are never summed (000 L184-L188).
                half = "（按 CF_NR_WFFF 合计的一半计，v1 未分列 half of the v1 total）"
            rule = (
                f"{kind} {amount:,.2f} 元{half} {relation} {threshold:,} 元（{lines}）({english} {relation} threshold)"
            )
            hits.append(_Hit("C" if above else "B", rule))
        else:
            what = f"{kind}（{penalty.licence}）" if penalty.licence and kind in _LICENCE_KINDS else kind
            rule = f"{what}：规则未列明的处罚类别 (penalty kind not named by the rules)"
            hits.append(_Hit(rules.unnamed_kind_grade, rule))
    return tuple(hits)


def _acts_on(penalty: Penalty, serious: SeriousPenalty) -> bool:
    """Whether the penalty does to one of the rule's licences what its kind says (吊销 the 营业执照), item by
    item: "暂扣营业执照三个月；吊销食品经营许可证" revokes no business licence (000 L190)."""
    verb = LICENCE_VERBS.get(serious.kind)
    return any(
        (verb is None or a.action == verb) and any(a.names(n) for n in serious.licence_names)
        for a in penalty.licence_actions
    )


def _counts(penalty: Penalty, rule_set: RuleSetVersion, hits: tuple[_Hit, ...]) -> bool:
    """Whether a penalty is still a basis for the grade after a national repair (the rule set's
    `national_repair`): a repair removes it, except one giving a D this rule set never repairs (000 L196).
    `hits`: the penalty's `classify`."""
    repair = rule_set.national_repair
    if not penalty.repaired or not repair.removes_record:
        return True
    return repair.keeps_never_repairable and any(h.serious_repairable is False for h in hits)


def _classified(file: CreditFile, penalty: Penalty, rules: ChongqingRules) -> tuple[_Hit, ...]:
    """`classify`, kept with the penalty (a penalty is derived once per record and kept with it, so a later
    event of the subject classifies only its new penalties); the rules object is checked, not just named."""
    key = ("chongqing.classify", file.subject_kind)
    found: tuple[ChongqingRules, tuple[_Hit, ...]] | None = penalty.memo.get(key)
    if found is None or found[0] is not rules:
        found = penalty.memo[key] = (rules, classify(penalty, rules, file.subject_kind))
    return found[1]


def _scored(file: CreditFile, penalty: Penalty, rule_set: RuleSetVersion, rules: ChongqingRules) -> _Scored | None:
    """The penalty with its classification, None when a repair removed it (`_counts`); kept with it."""
    key = ("chongqing.scored", file.subject_kind)
    found: tuple[RuleSetVersion, _Score | None] | None = penalty.memo.get(key)
    if found is None or found[0] is not rule_set:
        hits = _classified(file, penalty, rules)
        found = penalty.memo[key] = (rule_set, _Score(hits) if _counts(penalty, rule_set, hits) else None)
    score = found[1]
    return None if score is None else _Scored(penalty, score)


def _resumed_after(file: CreditFile, penalty: Penalty, day: date) -> Registration | None:
    later = [r for r in file.resumptions() if penalty.decided_on < r.decided_on <= day]
    return later[0] if later else None


def _chain(scored: list[_Scored], repair_years: int) -> list[_Scored]:
    """The qualifying penalties whose B/C repair periods run into each other up to the latest (000 L195),
    latest first: the chain on any day up to one year after the latest (after it, none)."""
    if not scored:
        return []
    chain = [scored[-1]]
    for earlier in reversed(scored[:-1]):
        if chain[-1].penalty.decided_on > years_after(earlier.penalty.decided_on, repair_years):
            break  # repaired before the next penalty came
        chain.append(earlier)
    return chain


Note = tuple[tuple[date, str, str], Explanation]
"""An explanation line with what orders it: (date, record id, rule)."""


@dataclass(frozen=True, slots=True)
class _Basis:
    """What the penalties decided on or before a day give, whatever that day is after the latest of them:
    one per number of such penalties, kept in the file's memo, so each other day of the same penalties only
    compares dates (an evaluation asks about up to ~6 days, all after the latest penalty but today's)."""

    rule_set: RuleSetVersion
    candidates: tuple[tuple[_Scored, _Hit], ...]
    """The D hits of the qualifying penalties, in order: each in force or not depending on the day."""
    chain: tuple[_Scored, ...]
    chain_last_day: date | None
    """The last day of the chain's repair period: after it there is no chain (None: no qualifying penalty)."""
    chain_grade: str | None
    """The worst B/C of the chain."""
    bc_notes: tuple[tuple[_Scored | None, tuple[Note, ...]], ...]
    """The chain's lines per penalty: its B/C hits', or for a penalty with none the restart line, given
    with the penalty (first) because it is left out on a day its D is in force."""
    bc_lines: tuple[Note, ...]
    """All of `bc_notes`' lines: the chain's lines on a day no restarting penalty's D is in force."""
    hitless_notes: tuple[Note, ...]
    hitless_last_days: tuple[date, ...]
    """The lines of the penalties that give nothing (non-counted departments), with the last day each is
    still explained (in the order of the penalties, so the days never decrease)."""


def _basis(file: CreditFile, rule_set: RuleSetVersion, rules: ChongqingRules, day: date) -> _Basis:
    dates: list[date] | None = file.memo.get("chongqing.dates")
    if dates is None:
        dates = file.memo["chongqing.dates"] = [p.decided_on for p in file.penalties]
    count = bisect_right(dates, day)
    key = ("chongqing.basis", count)
    found: _Basis | None = file.memo.get(key)
    if found is not None and found.rule_set is rule_set:
        return found
    years = rules.repair_years
    scored = [s for p in file.penalties[:count] if (s := _scored(file, p, rule_set, rules)) is not None]
    qualifying = [s for s in scored if s.hits]
    chain = _chain(qualifying, years)
    last_day = years_after(chain[0].penalty.decided_on, years) if chain else None
    bc_notes = [_chain_lines(s, last_day) for s in chain] if last_day is not None else []
    hitless = [s.penalty for s in scored if not s.hits]
    found = file.memo[key] = _Basis(
        rule_set=rule_set,
        candidates=tuple((s, hit) for s in qualifying if s.serious for hit in s.serious),
        chain=tuple(chain),
        chain_last_day=last_day,
        chain_grade=worst({s.bc for s in chain if s.bc is not None}),
        bc_notes=tuple(bc_notes),
        bc_lines=tuple(line for _, lines in bc_notes for line in lines),
        hitless_notes=tuple(map(_hitless_note, hitless)),
        hitless_last_days=tuple(years_after(p.decided_on, years) for p in hitless),
    )
    return found


def _chain_lines(s: _Scored, last_day: date) -> tuple[_Scored | None, tuple[Note, ...]]:
    """A chain penalty's lines when the chain's repair period ends on `last_day` (`_Basis.bc_notes`), kept
    with the penalty for the next event (the period moves only when a later penalty comes)."""
    # Kept with the `_Score` (not the `_Scored`, which holds the penalty): whether the penalty restarts the
    # period, and its lines.
    found: tuple[_Score, date, bool, tuple[Note, ...]] | None = s.penalty.memo.get("chongqing.chain")
    if found is None or found[0] is not s.score or found[1] != last_day:
        until = f"修复期至 {last_day} (repair period ends {last_day})"
        bc_hits = [h for h in s.hits if h.serious_repairable is None]
        if bc_hits:
            notes = tuple(_note(s.penalty, hit.rule, f"{hit.grade}；{until}", keep=False) for hit in bc_hits)
        else:
            notes = (_note(s.penalty, "新的处罚记录，修复期重新起算（000 L195）", f"restarts; {until}", keep=False),)
        found = s.penalty.memo["chongqing.chain"] = (s.score, last_day, not bc_hits, notes)
    return (s if found[2] else None), found[3]


def _hitless_note(penalty: Penalty) -> Note:
    found: Note | None = penalty.memo.get("chongqing.hitless")
    if found is None:
        rule = f"非计入部门（{penalty.department}）的处罚（000 L181-L188）"
        found = penalty.memo["chongqing.hitless"] = _note(penalty, rule, "不影响 A-C 等级 (counts only for D)")
    return found


def _rules(rule_set: RuleSetVersion) -> ChongqingRules:
    rules = rule_set.rules
    if not isinstance(rules, ChongqingRules):
        raise TypeError(f"rule set {rule_set.rule_set_id} is not a chongqing rule set")
    return rules


def _in_force(
    file: CreditFile, basis: _Basis, repair_years: int, day: date, notes: list[Note]
) -> tuple[list[tuple[_Scored, _Hit]], tuple[_Scored, ...]]:
    """The D hits in force on `day` (their lines added to `notes`) and the chain that day."""
    serious: list[tuple[_Scored, _Hit]] = []
    for s, hit in basis.candidates:
        effect = _serious_effect(file, s.penalty, hit, repair_years, day, notes)
        if effect is not None:
            serious.append((s, hit))
            notes.append(_note(s.penalty, hit.rule, effect))
    chain = basis.chain if basis.chain_last_day is not None and day <= basis.chain_last_day else ()
    return serious, chain


def grade_on(file: CreditFile, rule_set: RuleSetVersion, day: date) -> str:
    """`assess(file, rule_set, day).grade` without its explanation (what `evaluate`'s searches ask)."""
    rules = _rules(rule_set)
    basis = _basis(file, rule_set, rules, day)
    serious, chain = _in_force(file, basis, rules.repair_years, day, [])
    if serious:
        return "D"
    return (basis.chain_grade if chain else None) or "A"


def assess(file: CreditFile, rule_set: RuleSetVersion, day: date) -> Assessment:
    rules = _rules(rule_set)
    kind = file.subject_kind
    basis = _basis(file, rule_set, rules, day)
    notes: list[Note] = []
    serious, chain = _in_force(file, basis, rules.repair_years, day, notes)
    if chain and serious:
        in_force = {id(s) for s, _ in serious}
        for restarting, lines in basis.bc_notes:
            if restarting is None or id(restarting) not in in_force:
                notes.extend(lines)
    elif chain:
        notes.extend(basis.bc_lines)
    notes.extend(basis.hitless_notes[bisect_left(basis.hitless_last_days, day) :])

    grade, since, reason = _grade(rules, kind, serious, chain, basis.chain_grade)
    level = _supervision(file, rules, grade, day, notes)
    closure = file.closure_on(day)
    if closure is not None:
        reason += f"；主体已于 {closure.decided_on} 注销 (deregistered on {closure.decided_on})"
    notes.sort(key=itemgetter(0))
    return Assessment(grade, reason, since, level, _distinct(notes))


def _distinct(notes: list[Note]) -> tuple[Explanation, ...]:
    """The lines of sorted `notes`, each once (the first). Equal lines have equal sort keys (a line's date is
    that of the record it names), so only a run of equal keys can repeat one: no hashing of every line."""
    keys = list(map(itemgetter(0), notes))
    if not any(map(operator.eq, keys, keys[1:])):
        return tuple(map(itemgetter(1), notes))
    ordered: list[Explanation] = []
    run: list[Explanation] = []
    previous: tuple[date, str, str] | None = None
    for key, line in notes:
        if key != previous:
            previous, run = key, [line]
            ordered.append(line)
        elif line not in run:
            run.append(line)
            ordered.append(line)
    return tuple(ordered)


def _grade(
    rules: ChongqingRules, kind: str, serious: list[tuple[_Scored, _Hit]], chain: tuple[_Scored, ...], bc: str | None
) -> tuple[str, date | None, str]:
    """Worst wins (000 L193): D if a serious penalty is in force, else the chain's worst B/C (`bc`), else A."""
    if serious:
        named = "、".join(dict.fromkeys(h.named_as for _, h in serious))
        english = "; ".join(dict.fromkeys(h.english for _, h in serious))
        since = max(s.penalty.decided_on for s, _ in serious)
        return "D", since, _REASONS["D"].format(named=named, english=english)
    if chain and bc is not None:
        return bc, chain[0].penalty.decided_on, _REASONS[bc].format(t=f"{rules.thresholds_yuan[kind]:,}")
    return "A", None, _REASONS["A"].format(depts="、".join(sorted(rules.counted_departments)))


def _serious_effect(
    file: CreditFile,
    penalty: Penalty,
    hit: _Hit,
    repair_years: int,
    day: date,
    notes: list[Note],
) -> str | None:
    """The effect of a D hit on `day`, or None when it has been repaired (000 L196)."""
    if not hit.serious_repairable:
        if penalty.repaired:
            return "D；不可修复，信用修复不改变此等级 (never repaired, not even by an approved credit repair, 000 L196)"
        return "D；不可修复 (never repaired, 000 L196)"
    resumed = _resumed_after(file, penalty, day)
    if resumed is None:
        return "D；恢复营业后一年方可修复 (repairable one year after business resumes, 000 L196)"
    repaired_on = years_after(resumed.decided_on, repair_years) + DAY
    if day >= repaired_on:
        return None
    rule = f"{resumed.decided_on} 恢复营业（000 L196）"
    effect = f"D 于 {repaired_on} 修复 (D repaired on {repaired_on})"
    notes.append(_line(resumed.decided_on, Explanation(resumed.record_id, resumed.department, rule, effect)))
    return f"D；{repaired_on} 修复 (repaired on {repaired_on})"


def _supervision(file: CreditFile, rules: ChongqingRules, grade: str, day: date, notes: list[Note]) -> str | None:
    """The level of 000 L257-L295 from the rule set's table.

    The table is the level "本办法规定" (a floor): 第三十七条 (L295) lets a district raise a level, never
    lower it: a `supervision_level_raise` record decided on or before `day` gives the stricter of the two
    (issue 22); one naming a lighter level changes nothing. Without a registration record the level is
    given only when the grade alone decides it (C → Ⅲ, D → Ⅳ) or a raise names it; a deregistered
    subject is no longer supervised (None).
    """
    if file.closure_on(day) is not None:
        return None
    registration = file.registration_on(day)
    level: str | None
    if registration is None:
        possible = {lvl for (g, _, _), lvl in rules.supervision_levels.items() if g == grade}
        level = possible.pop() if len(possible) == 1 else None
    else:
        level = rules.supervision_levels[(grade, registration.industry_risk, registration.region_class)]
        rule = f"监管等级：{grade} 级 × {registration.industry_risk} × {registration.region_class}（000 L257-L295）"
        effect = f"{rules.level_measures[level].name} (supervision level {level})"
        notes.append(
            _line(registration.decided_on, Explanation(registration.record_id, registration.department, rule, effect))
        )
    raises: list[Mark] | None = file.memo.get("chongqing.raises")
    if raises is None:
        raises = file.memo["chongqing.raises"] = [m for m in file.marks if m.record_type == LEVEL_RAISE]
    for raise_ in (m for m in raises if m.decided_on <= day):
        raised = next((lvl for lvl in raise_.details if lvl in LEVELS), None)
        if raised is None or (level is not None and LEVELS.index(raised) <= LEVELS.index(level)):
            continue
        level = raised
        rule = f"区县局提高监管等级至 {raised}（不得低于规定等级，000 L295）"
        effect = f"{rules.level_measures[raised].name} (supervision level raised to {raised})"
        notes.append(_line(raise_.decided_on, Explanation(raise_.record_id, raise_.department, rule, effect)))
    return level


def _line(day: date, explanation: Explanation) -> Note:
    return (day, explanation.record_id, explanation.rule), explanation


def _note(penalty: Penalty, rule: str, effect: str, *, keep: bool = True) -> Note:
    """The explanation line of a penalty; with `keep`, made once per penalty, rule and effect and kept with
    the penalty (the same lines come back on every day assessed and at every later event of the subject).
    The chain's lines name the day its period ends, which moves: `_chain_lines` keeps only the latest."""
    key = ("chongqing.note", rule, effect)
    found: Note | None = penalty.memo.get(key) if keep else None
    if found is None:
        corrected = "（已更正 corrected）" if penalty.corrected else ""
        text = f"{penalty.decided_on} {rule}{corrected}"
        found = _line(penalty.decided_on, Explanation(penalty.record_id, penalty.department, text, effect))
        if keep:
            penalty.memo[key] = found
    return found
