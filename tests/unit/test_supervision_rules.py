"""Issue 22, pure rules: the 双随机 draw (ratio per stratum, same seed same subjects, an auditor's re-draw
from the published event), and what records oblige (re-check after 吊销, commitments, evaluations, points)."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.common.catalogue import load_catalogue
from services.common.records import AcceptedRecord
from services.supervision.rules import model
from services.supervision.rules.derive import Grade, add_months, derive, effective_level
from services.supervision.rules.sampling import Member, draw, redraw, stratify, stratum_size
from tests import factories
from tests.helpers import record_event

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
RULES = model.load(SCHEMAS)
MEASURES = model.load_measures(SCHEMAS, set(load_catalogue(SCHEMAS).departments), RULES)
SUP = RULES.rule_sets["chongqing-amr"]


def population(n: int) -> list[Member]:
    mix = [("A", "I"), ("A", "II"), ("B", "II"), ("B", "III"), ("C", "III"), ("D", "IV")]
    weights = [40, 20, 20, 10, 7, 3]
    members, i = [], 0
    for (grade, level), w in zip(mix, weights, strict=True):
        for _ in range(n * w // 100):
            members.append(Member(f"91500101{i:010d}", grade, level))
            i += 1
    return members


def test_a_plan_over_10000_subjects_draws_the_configured_ratio_per_stratum() -> None:
    strata = stratify(population(10_000))
    assert sum(len(c) for c in strata.values()) == 10_000
    result = draw(strata, SUP.ratio, "seed-2026-q4")
    drawn: dict[str, int] = {}
    for d in result.drawn:
        drawn[d.stratum] = drawn.get(d.stratum, 0) + 1
    for stratum, codes in strata.items():
        assert drawn[stratum] == math.ceil(SUP.ratio(stratum) * len(codes)) == result.sizes[stratum]
    assert drawn["D/IV"] == len(strata["D/IV"])  # Ⅳ: every one (ratio 1.0)
    assert drawn["A/I"] == 120
    assert drawn["C/III"] == 210


def test_the_same_seed_redraws_the_same_subjects_and_another_seed_does_not() -> None:
    members = population(10_000)
    first = draw(stratify(members), SUP.ratio, "seed-a")
    again = draw(stratify(list(reversed(members))), SUP.ratio, "seed-a")  # order of the population is irrelevant
    other = draw(stratify(members), SUP.ratio, "seed-b")
    assert first.drawn == again.drawn
    assert {d.code for d in first.drawn} != {d.code for d in other.drawn}


def test_an_auditor_redraw_from_the_published_event_matches() -> None:
    strata = stratify(population(2_000))
    roster = ["张三", "李四", "王五", "赵六", "钱七"]
    result = draw(strata, SUP.ratio, "audit-seed", roster)
    published: dict[str, Any] = {
        "seed": "audit-seed",
        "population": result.population,
        "ratios": {s: SUP.ratio(s) for s in result.population},
        "inspector_roster": roster,
    }
    expected = [{"code": d.code, "stratum": d.stratum, "inspectors": list(d.inspectors)} for d in result.drawn]
    assert redraw(published) == expected
    assert all(len(d.inspectors) >= 2 for d in result.drawn)
    tampered = dict(published, seed="another")
    assert redraw(tampered) != expected


def test_stratum_sizes_round_up_and_never_exceed_the_stratum() -> None:
    assert stratum_size(30, 0.1) == 3
    assert stratum_size(1, 0.03) == 1
    assert stratum_size(5, 1.0) == 5
    assert stratum_size(0, 0.5) == 0
    assert stratum_size(10, 0.0) == 0


def accepted(envelope: dict[str, Any], seq: int = 1) -> AcceptedRecord:
    return AcceptedRecord.from_event(record_event(envelope, seq, envelope["id"].split("-")[0]))


def test_a_revoked_business_licence_puts_a_level_iv_subject_on_a_3_month_recheck() -> None:
    revocation = factories.penalty(categories=("吊销许可证件",), fine=None, decision_date="2026-09-15")
    code = revocation["subject"]["code"]
    derived = derive([accepted(revocation)], [Grade("chongqing-amr", "D", "IV", date(2026, 9, 15))], RULES)
    (recheck,) = [o for o in derived.obligations if o.kind == "revocation_recheck"]
    assert (recheck.department, recheck.due, recheck.done_on) == ("AMR", date(2026, 12, 15), None)
    assert code
    assert derived.level == "IV"


def test_a_district_raises_a_level_but_never_lowers_it() -> None:
    raise_ = factories.fresh(factories.examples("supervision_level_raise")[0])
    lower = factories.fresh(raise_)
    lower["data"]["raised_level"] = "II"
    assert effective_level("II", [accepted(raise_)]) == "III"
    assert effective_level("IV", [accepted(raise_), accepted(lower, 2)]) == "IV"


def test_twelve_points_in_three_years_propose_a_blacklist_to_the_deciding_department() -> None:
    base = factories.examples("credit_evaluation")[1]
    records = []
    for n, (day, points) in enumerate([("2024-01-10", 6), ("2026-02-01", 3), ("2026-10-01", 3)], start=1):
        r = factories.fresh(base)
        r["decision_date"] = r["data"]["decision_date"] = day
        r["data"]["points"] = points
        records.append(accepted(r, n))
    (proposal,) = derive(records, [], RULES).proposals
    assert (proposal.department, proposal.kind, proposal.candidate_from) == (
        "AMR",
        "points_blacklist",
        date(2026, 10, 1),
    )
    assert proposal.details["points"] == 12
    assert proposal.details["proposed_until"] == "2029-10-01"
    assert not derive(records[1:], [], RULES).proposals  # 6 points: below the threshold


def test_add_months_keeps_the_day_or_takes_the_month_end() -> None:
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert add_months(date(2026, 9, 15), 3) == date(2026, 12, 15)


@pytest.mark.parametrize("bad", [{"A/V": 0.1}, {"A": 0.1}])
def test_a_ratio_table_naming_no_level_is_refused(bad: dict[str, float]) -> None:
    raw = RULES.rule_sets["chongqing-amr"].model_dump() | {"ratios": bad}
    with pytest.raises(ValueError, match="not <grade>/<level>"):
        model.RuleSetSupervision.model_validate(raw)


def test_a_raise_shortens_the_patrol_period_and_three_years_abnormal_is_proposed() -> None:
    raise_ = accepted(factories.fresh(factories.examples("supervision_level_raise")[0]))  # III, every 3 months
    derived = derive([raise_], [Grade("chongqing-amr", "B", "II", date(2026, 6, 1))], RULES)
    (patrol,) = [o for o in derived.obligations if o.kind == "patrol"]
    assert (derived.level, patrol.due) == ("III", date(2026, 9, 1))
    listing = factories.fresh(factories.examples("abnormal_operation_listing")[0])
    listing["decision_date"] = listing["data"]["decision_date"] = "2023-05-10"
    (proposal,) = derive([accepted(listing)], [], RULES).proposals
    assert (proposal.kind, proposal.department, proposal.candidate_from) == ("abnormal_3y", "AMR", date(2026, 5, 11))


def test_an_interview_deadline_passed_without_a_check_is_proposed() -> None:
    interview = accepted(factories.fresh(factories.examples("supervision_interview")[0], "TAX"))
    (proposal,) = derive([interview], [], RULES).proposals
    assert (proposal.kind, proposal.department, proposal.candidate_from) == (
        "interview_overdue",
        "TAX",
        date(2026, 9, 1),
    )


def test_code_conflicts_flag_foreign_names_and_shared_names_but_not_renames() -> None:
    from services.supervision.rules.codes import Registered, Reported, detect

    regs = [
        Registered("C1", "甲公司", "设立", date(2020, 1, 1), "R1"),
        Registered("C1", "甲乙公司", "变更", date(2024, 1, 1), "R2"),  # a lawful rename
        Registered("C2", "丙公司", "设立", date(2020, 1, 1), "R3"),
        Registered("C3", "丙公司", "设立", date(2021, 1, 1), "R4"),  # the same name, another code
    ]
    reported = [
        Reported("C1", "甲公司", "TAX", "T1"),
        Reported("C1", "甲乙公司", "AMR", "A1"),
        Reported("C2", "丁公司", "HOUSING", "H1"),  # a name C2 was never registered under
    ]
    warnings = {(w.kind, w.key): w for w in detect(regs, reported)}
    assert set(warnings) == {("one_code_many_names", "C2"), ("one_name_many_codes", "丙公司")}
    assert warnings[("one_code_many_names", "C2")].record_ids == ("H1",)
    assert warnings[("one_name_many_codes", "丙公司")].values == ("C2", "C3")


def test_three_light_penalties_of_one_kind_in_two_years_propose_stricter_supervision() -> None:
    severity = model.load_severity(Path(__file__).resolve().parents[2] / "schemas", RULES)
    code = factories.uscc()
    warnings = []
    for n, day in enumerate(["2025-01-10", "2025-09-01", "2026-11-02"], start=1):
        p = factories.penalty(code=code, categories=("警告",), fine=None, decision_date=day)
        warnings.append(accepted(p, n))
    (proposal,) = derive(warnings, [], RULES, severity).proposals
    assert (proposal.kind, proposal.department, proposal.candidate_from) == ("repeated_light", "AMR", date(2026, 11, 2))
    assert not derive(warnings[:2], [], RULES, severity).proposals


def _commitment(event: str, day: str, n: int, **data: Any) -> AcceptedRecord:
    r = factories.fresh(factories.examples("credit_commitment")[0])
    r["decision_date"] = r["data"]["decision_date"] = day
    r["data"] |= {"event": event, **data}
    if event != "作出":
        r["data"].pop("text", None)
    return accepted(r, n)


def _verification(result: str, day: str, n: int) -> AcceptedRecord:
    r = factories.fresh(factories.examples("commitment_verification")[0 if result == "符合承诺" else 1])
    r["decision_date"] = r["data"]["decision_date"] = r["data"]["verified_on"] = day
    return accepted(r, n)


def test_a_commitment_past_due_alerts_its_department_once_and_a_verification_closes_it() -> None:
    made = _commitment("作出", "2026-04-03", 1)
    (due,) = derive([made], [], RULES).obligations
    assert (due.kind, due.department, due.due, due.done_on) == ("commitment_due", "AMR", date(2026, 5, 20), None)
    assert from_derive([made], date(2026, 5, 20)) == []  # due today: not yet past
    (alert,) = from_derive([made], date(2026, 5, 21))
    assert (alert.department, alert.record_id) == ("AMR", made.record_id)
    assert alert.alert_id == f"commitment_overdue:AMR:{made.record_id}"
    on_time = [made, _verification("符合承诺", "2026-05-18", 2)]
    (closed,) = derive(on_time, [], RULES).obligations
    assert closed.done_on == date(2026, 5, 18)
    assert from_derive(on_time, date(2026, 12, 1)) == []
    late = [made, _verification("符合承诺", "2026-06-02", 2)]
    (announced,) = from_derive(late, date(2026, 12, 1))  # delivered after the date: it was overdue then
    assert announced.done_on == date(2026, 6, 2)


def from_derive(records: list[AcceptedRecord], today: date) -> list[Any]:
    from services.supervision.rules.derive import overdue_alerts

    return overdue_alerts(derive(records, [], RULES).obligations, today)


def test_a_failed_verification_asks_for_the_breach_decision_and_a_documented_breach_opens_the_measures() -> None:
    made = _commitment("作出", "2026-04-03", 1)
    failed = _verification("不符合承诺", "2026-05-21", 2)
    (pending,) = derive([made, failed], [], RULES).proposals
    assert (pending.kind, pending.department) == ("commitment_unfulfilled", "AMR")
    assert pending.details["measures"] == ["撤销食品经营许可", "三年内不适用容缺受理"]
    breach = _commitment("违诺", "2026-05-25", 3, breach_details="未补交", document_kind="撤销行政许可决定书",
                         document_no="示市监撤许〔2026〕3号")  # fmt: skip
    (proposal,) = derive([made, failed, breach], [], RULES).proposals
    assert (proposal.kind, proposal.details["document_missing"]) == ("commitment_breach", False)
    assert proposal.details["measures"] == ["撤销食品经营许可", "三年内不适用容缺受理"]
    assert proposal.details["verification_record_id"] == failed.record_id
    bare = _commitment("违诺", "2026-05-25", 3, breach_details="未补交")
    (unproven,) = derive([made, bare], [], RULES).proposals
    assert unproven.details["document_missing"] is True
    assert "001 L646" in unproven.title


def _tax(grade: str, year: int, n: int, code: str | None = None) -> AcceptedRecord:
    r = factories.fresh(factories.examples("credit_evaluation")[0], "TAX")
    r["subject"]["code"] = code or r["subject"]["code"]
    r["decision_date"] = r["data"]["decision_date"] = r["data"]["valid_from"] = f"{year}-04-01"
    r["data"] |= {"grade": grade, "valid_until": f"{year + 1}-03-31"}
    return accepted(r, n)


def test_a_tax_a_gives_its_reward_and_the_green_channel_only_for_three_a_years_running() -> None:
    def rewards(records: list[AcceptedRecord], on: date) -> list[str]:
        found = derive(records, [], RULES, measures=MEASURES).consequences
        return sorted(
            c.text[:5] for c in found if c.kind == "reward" and c.valid_from <= on <= (c.valid_until or date.max)
        )

    one = [_tax("A", 2026, 1)]
    assert rewards(one, date(2026, 6, 1)) == ["主动向社会"]
    assert rewards(one, date(2027, 4, 1)) == []  # expired with its validity
    three = [_tax("A", 2024, 1), _tax("A", 2025, 2), _tax("A", 2026, 3)]
    assert rewards(three, date(2026, 6, 1)) == ["主动向社会", "绿色通道（"]
    assert rewards(three, date(2025, 6, 1)) == ["主动向社会"]  # the second A of the run: no green channel
    broken = [_tax("A", 2024, 1), _tax("B", 2025, 2), _tax("A", 2026, 3)]
    assert rewards(broken, date(2026, 6, 1)) == ["主动向社会"]


def test_the_county_composite_evaluation_bands_rewards_and_ends_with_the_window() -> None:
    from services.supervision.rules.composite import on, timeline

    schemas = Path(__file__).resolve().parents[2] / "schemas"
    table = model.load_composite_table(schemas, RULES)
    severity = model.load_severity(schemas, RULES)
    assert table is not None
    red = factories.fresh(factories.examples("red_list")[0])
    code = red["subject"]["code"]
    red["decision_date"] = red["data"]["decision_date"] = "2026-01-10"
    tax = _tax("A", 2026, 2, code)
    records = [accepted(red), tax]
    segments = timeline(records, table, severity)
    assert [(s.valid_from, s.score, s.band) for s in segments][:2] == [
        (date(2026, 1, 10), 90, "优"),  # 80 + 红名单 10
        (date(2026, 4, 1), 95, "优"),  # + 纳税 A 5
    ]
    assert on(segments, date(2029, 1, 10)) is not None
    assert on(segments, date(2029, 6, 1)).band == "良"  # type: ignore[union-attr]  # both past 3 years: base 80
    derived = derive(records, [], RULES, severity, table, MEASURES)
    (reward,) = [c for c in derived.consequences if c.scale == "公共信用综合评价" and c.valid_from == date(2026, 1, 10)]
    assert (reward.kind, reward.grade, reward.department) == ("reward", "优", "DRC")
    serious = factories.penalty(code=code, categories=("吊销许可证件",), fine=None, decision_date="2026-06-01")
    worse = timeline([*records, accepted(serious, 3)], table, severity)
    assert on(worse, date(2026, 6, 1)).band == "中"  # type: ignore[union-attr]  # 95 - 25 = 70


def test_a_plan_over_composite_bands_draws_more_of_the_poor_band() -> None:
    sup = RULES.rule_sets["county-composite"]
    strata = stratify([Member(f"91500101{i:010d}", "优" if i % 2 else "差", None) for i in range(1000)])
    result = draw(strata, sup.ratio, "composite-seed")
    assert result.sizes == {"优/-": 15, "差/-": 150}


def _published(members: list[Member], seed: str) -> dict[str, Any]:
    result = draw(stratify(members), SUP.ratio, seed, ["张三", "李四", "王五"])
    return {
        "event": "plan_drawn",
        "plan_id": "PLAN-AMR-TEST",
        "seed": seed,
        "population_size": result.population_size,
        "population": result.population,
        "ratios": {s: SUP.ratio(s) for s in result.population},
        "sizes": result.sizes,
        "inspector_roster": ["张三", "李四", "王五"],
        "drawn": [{"code": d.code, "stratum": d.stratum, "inspectors": list(d.inspectors)} for d in result.drawn],
    }


def test_a_plan_over_10000_subjects_is_published_in_parts_that_an_auditor_puts_together() -> None:
    import orjson

    from services.supervision.rules.sampling import PART_BYTES, assemble, split_published

    published = _published(population(60_000), "chunk-seed")
    parts = split_published(published)
    sizes = [len(orjson.dumps(p)) for p in parts]  # as the outbox serialises them
    assert len(orjson.dumps(published)) > 1_000_000  # one message would not fit
    assert len(parts) > 4
    assert max(sizes) < PART_BYTES + 4_096 < 1_000_000
    assert [(p["part"], p["parts"]) for p in parts] == [(n, len(parts)) for n in range(1, len(parts) + 1)]
    whole = assemble(list(reversed(parts)))
    assert whole == published
    assert redraw(whole) == published["drawn"]
    assert len(split_published(_published(population(10_000), "s"))) == 2  # 10,000 subjects: already parts
    assert len(split_published(_published(population(2_000), "s"))) == 1
    with pytest.raises(ValueError, match="parts"):
        assemble(parts[1:])


def test_patrols_follow_the_level_every_year_every_half_year_or_never() -> None:
    since = date(2026, 3, 10)

    def patrols(level: str, inspected: tuple[str, ...] = ()) -> list[date]:
        records = []
        for n, day in enumerate(inspected, start=1):
            r = factories.fresh(factories.examples("inspection_result")[0])
            r["decision_date"] = r["data"]["decision_date"] = r["data"]["inspected_on"] = day
            records.append(accepted(r, n))
        derived = derive(records, [Grade("chongqing-amr", "B", level, since)], RULES)
        return [o.due for o in derived.obligations if o.kind == "patrol"]

    assert patrols("I") == []  # 免于日常检查 (000 L262)
    assert patrols("II") == [date(2027, 3, 10)]  # 每年至少一次 (000 L268)
    assert patrols("III") == [date(2026, 9, 10)]  # 每半年至少一次 (000 L279)
    assert patrols("III", ("2026-05-04",)) == [date(2026, 11, 4)]  # from the last inspection


def test_inspectors_are_paired_by_the_seed_and_an_odd_one_joins_the_last_pair() -> None:
    from services.supervision.rules.sampling import inspector_pairs

    roster = ["张三", "李四", "王五", "赵六", "钱七"]
    pairs = inspector_pairs(roster, "seed-1")
    assert [len(p) for p in pairs] == [2, 3]
    assert sorted(name for p in pairs for name in p) == sorted(roster)
    assert inspector_pairs(list(reversed(roster)), "seed-1") == pairs  # the roster's order is irrelevant
    assert inspector_pairs(roster, "seed-2") != pairs
