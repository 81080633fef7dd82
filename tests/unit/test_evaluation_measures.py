"""Issue 22: what a department's evaluation (and the county composite evaluation) brings is one list — the
measure list's `evaluation:` measures — read the same way by sanctions' restriction answer and supervision's
evaluations view; an evaluation is in force over its validity, until the next one of its scale starts."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.common.catalogue import load_catalogue
from services.common.records import AcceptedRecord
from services.sanctions.rules import restriction_answer
from services.sanctions.rules.derive import Objection, evaluation_cases
from services.sanctions.rules.measures import MeasureListError, check_evaluation_triggers
from services.supervision.rules import model
from services.supervision.rules.derive import derive
from services.supervision.rules.evaluations import composite_periods, evaluation_periods
from tests import factories
from tests.helpers import record_event

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
RULES = model.load(SCHEMAS)
MEASURES = model.load_measures(SCHEMAS, set(load_catalogue(SCHEMAS).departments), RULES)
CODE = "91500101MA5U7K3PXJ"


def evaluation(scale: str, grade: str, start: str, until: str | None, n: int, **data: Any) -> AcceptedRecord:
    department = RULES.evaluation_scales[scale].department
    r = factories.fresh(factories.examples("credit_evaluation")[0], department)
    r["subject"]["code"] = CODE
    r["decision_date"] = r["data"]["decision_date"] = r["data"]["valid_from"] = start
    r["data"] |= {"scale": scale, "grade": grade, **data}
    r["data"].pop("valid_until")
    if until is not None:
        r["data"]["valid_until"] = until
    return AcceptedRecord.from_event(record_event(r, n, department))


def answer(records: list[AcceptedRecord], matter: str, on: date, objections: list[Objection] | None = None) -> Any:
    cases = evaluation_cases(records, objections or [], evaluation_periods(records), MEASURES, on)
    return restriction_answer(CODE, matter, on, cases)


def ids(items: list[dict[str, Any]]) -> set[str]:
    return {i["measure_id"] for i in items}


def test_a_tax_a_brings_its_reward_over_its_validity_and_not_after() -> None:
    a = evaluation("纳税信用", "A", "2026-04-01", "2027-03-31", 1)
    assert ids(answer([a], "tax_administration", date(2026, 4, 1))["rewards"]) == {"R-NSXY-EVL-01"}
    assert ids(answer([a], "tax_administration", date(2027, 3, 31))["rewards"]) == {"R-NSXY-EVL-01"}
    assert answer([a], "tax_administration", date(2027, 4, 1))["rewards"] == []
    assert answer([a], "tax_administration", date(2026, 3, 31))["rewards"] == []
    (item,) = answer([a], "tax_administration", date(2026, 6, 1))["rewards"]
    assert (item["since"], item["until"]) == ("2026-04-01", "2027-03-31")


def test_three_a_years_running_add_the_green_channel() -> None:
    years = [evaluation("纳税信用", "A", f"{y}-04-01", f"{y + 1}-03-31", n) for n, y in enumerate((2024, 2025, 2026))]
    assert ids(answer(years, "tax_administration", date(2026, 6, 1))["rewards"]) == {"R-NSXY-EVL-01", "R-NSXY-EVL-02"}
    assert ids(answer(years, "tax_administration", date(2025, 6, 1))["rewards"]) == {"R-NSXY-EVL-01"}


def test_a_later_evaluation_of_the_same_scale_supersedes_the_earlier_one() -> None:
    a = evaluation("纳税信用", "A", "2026-04-01", "2027-03-31", 1)
    d = evaluation("纳税信用", "D", "2026-10-01", "2027-09-30", 2)
    safety = evaluation("安全生产", "1", "2026-01-01", None, 3)  # another scale: untouched
    periods = {(p.scale, p.grade): (p.since, p.until) for p in evaluation_periods([a, d, safety])}
    assert periods[("纳税信用", "A")] == (date(2026, 4, 1), date(2026, 9, 30))
    assert periods[("纳税信用", "D")] == (date(2026, 10, 1), date(2027, 9, 30))
    assert periods[("安全生产", "1")] == (date(2026, 1, 1), None)
    assert ids(answer([a, d], "tax_administration", date(2026, 9, 30))["rewards"]) == {"R-NSXY-EVL-01"}
    later = answer([a, d], "tax_administration", date(2026, 10, 1))
    assert later["rewards"] == []
    assert ids(later["measures"]) == {"M-NSXY-EVL-01"}
    same_day = evaluation("纳税信用", "B", "2026-04-01", "2027-03-31", 4)  # re-evaluated from the same day
    assert [p.grade for p in evaluation_periods([a, same_day])] == ["B"]


def test_a_safety_grade_4_shows_its_restriction_and_withholds_rewards() -> None:
    four = evaluation("安全生产", "4", "2026-05-01", "2026-12-31", 1)
    a = evaluation("纳税信用", "A", "2026-04-01", "2027-03-31", 2)
    checked = answer([four, a], "inspection", date(2026, 6, 1))
    assert ids(checked["measures"]) == {"M-AQSC-EVL-01"}
    assert checked["restricted"] is False
    assert answer([four, a], "tax_administration", date(2026, 6, 1))["rewards"] == []  # 失信 status: no rewards
    assert ids(answer([four, a], "tax_administration", date(2027, 1, 1))["rewards"]) == {"R-NSXY-EVL-01"}
    assert answer([four, a], "inspection", date(2027, 1, 1))["measures"] == []


def test_an_objection_on_the_evaluation_suspends_its_restriction() -> None:
    d = evaluation("纳税信用", "D", "2026-04-01", "2027-03-31", 1)
    objection = Objection("OBJ-1", CODE, "TAX", d.record_id, date(2026, 5, 1))
    held = answer([d], "inspection", date(2026, 6, 1), [objection])
    assert (held["suspended"], held["measures"]) == (True, [])


def test_supervision_and_sanctions_read_the_same_measures() -> None:
    a = evaluation("纳税信用", "A", "2026-04-01", "2027-03-31", 1)
    four = evaluation("安全生产", "4", "2026-05-01", "2027-04-30", 2)
    shown = {(c.kind, c.text) for c in derive([a, four], [], RULES, measures=MEASURES).consequences}
    cases = evaluation_cases([a, four], [], evaluation_periods([a, four]), MEASURES, date(2026, 6, 1))
    answered = {("reward" if m.nature == "reward" else "restriction", m.name) for c in cases for m in c.measures}
    assert (
        shown
        == answered
        == {
            ("reward", "主动向社会公告年度A级纳税人名单；一般纳税人可单次领取3个月的增值税发票用量"),
            ("restriction", "加大日常监管力度，每年检查不少于2次"),
        }
    )


def test_composite_bands_join_and_bring_their_measures() -> None:
    table = model.load_composite_table(SCHEMAS, RULES)
    severity = model.load_severity(SCHEMAS, RULES)
    assert table is not None
    red = factories.fresh(factories.examples("red_list")[0])
    red["subject"]["code"] = CODE
    red["decision_date"] = red["data"]["decision_date"] = "2026-01-10"
    records = [AcceptedRecord.from_event(record_event(red, 1, red["id"].split("-")[0]))]
    records.append(evaluation("纳税信用", "A", "2026-04-01", "2027-03-31", 2))
    periods = composite_periods(records, table, severity)
    assert (periods[0].grade, periods[0].since) == ("优", date(2026, 1, 10))  # 90 then 95: one 优 period
    assert periods[0].until is not None
    assert periods[0].until >= date(2027, 1, 1)
    cases = evaluation_cases(records, [], periods, MEASURES, date(2026, 6, 1))
    assert {m.id for c in cases for m in c.measures} == {"R-HXXY-EVL-01"}


def test_an_objection_to_a_record_the_composite_scores_suspends_its_poor_band_not_a_good_bands_reward() -> None:
    table = model.load_composite_table(SCHEMAS, RULES)
    severity = model.load_severity(SCHEMAS, RULES)
    assert table is not None
    records = []
    for n, kind in enumerate(("serious_untrustworthy_listing", "judgment_defaulter_listing"), start=1):
        listing = factories.fresh(factories.examples(kind)[0])
        listing["subject"]["code"] = CODE
        listing["decision_date"] = listing["data"]["decision_date"] = "2026-03-02"
        records.append(AcceptedRecord.from_event(record_event(listing, n, listing["id"].split("-")[0])))
    periods = composite_periods(records, table, severity)
    on = date(2026, 6, 1)
    poor = restriction_answer(CODE, "inspection", on, evaluation_cases(records, [], periods, MEASURES, on))
    assert poor["measures"], "two listings put the subject in the 差 band, with its measure on inspections"
    objection = Objection("OBJ-2", CODE, records[1].department, records[1].record_id, date(2026, 5, 1))
    held = restriction_answer(CODE, "inspection", on, evaluation_cases(records, [objection], periods, MEASURES, on))
    assert (held["suspended"], held["measures"]) == (True, [])

    red = factories.fresh(factories.examples("red_list")[0])
    red["subject"]["code"] = CODE
    red["decision_date"] = red["data"]["decision_date"] = "2026-01-10"
    penalty = factories.penalty(code=CODE, fine=5.0, decision_date="2026-02-01")  # 优 again from the A on
    good = [
        AcceptedRecord.from_event(record_event(red, 2, red["id"].split("-")[0])),
        AcceptedRecord.from_event(record_event(penalty, 3, penalty["id"].split("-")[0])),
        evaluation("纳税信用", "A", "2026-04-01", "2027-03-31", 4),
    ]
    good_periods = composite_periods(good, table, severity)
    disputed = Objection("OBJ-3", CODE, good[1].department, good[1].record_id, date(2026, 5, 1))
    rewards = {m.id for c in evaluation_cases(good, [disputed], good_periods, MEASURES, on) for m in c.measures}
    assert "R-HXXY-EVL-01" in rewards  # 优 stays: the disputed penalty only lowers the score
    assert not any(
        c.objection_pending
        for c in evaluation_cases(good, [disputed], good_periods, MEASURES, on)
        if c.trigger.kind.endswith(":优")
    )


def test_an_evaluation_trigger_names_a_known_scale_and_grade() -> None:
    grades = {"纳税信用": ["A", "B"]}
    with pytest.raises(MeasureListError) as raised:
        check_evaluation_triggers(MEASURES, grades)
    assert any("unknown scale" in message for _, message in raised.value.problems)
    assert any("'evaluation:纳税信用:D'" in message for _, message in raised.value.problems)
