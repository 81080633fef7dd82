"""Grading a subject from what its earlier events derived (`SubjectRecords` extended event by event, the
penalties' kept classifications and lines) gives exactly the grade a from-scratch evaluation gives.

Histories are drawn at random: penalties of counted and non-counted departments decided out of order,
corrections, revocations and repairs (also of records received after them), registrations, rewards and
listings; some events read earlier records back as equal copies (the next batch reads the table). After
every event both rule sets grade the subject on a drawn day, once from the kept state and once from fresh
copies of the records (nothing derived shared), and the answers must be equal.
"""

from __future__ import annotations

import gc
import weakref
from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.records import AcceptedRecord
from services.grading.rules import RuleSets, build_credit_file, load_rule_sets
from services.grading.rules.credit_file import Penalty
from services.grading.rules.grades import compute, subject_of
from services.grading.rules.subject_records import KeptSubjects, SubjectRecords
from tests.unit.test_grading_rules import (
    COMPANY,
    SCHEMAS,
    SHOP,
    abnormal,
    correction,
    penalty,
    registration,
    repair,
    revocation,
    reward,
    serious_listing,
)

START = date(2025, 1, 1)
KINDS = [("警告",), ("罚款",), ("罚款", "没收违法所得"), ("通报批评",), ("责令停产停业",), ("吊销许可证件",)]
ACTIONS = ["penalty"] * 6 + ["correction", "revocation", "repair", "registration", "reward", "listing", "copy"]
ACTIONS += ["late"] * 2


@pytest.fixture(scope="module")
def rule_sets() -> RuleSets:
    return load_rule_sets(SCHEMAS)


def _day(draw: st.DrawFn) -> str:
    return str(START + timedelta(days=draw(st.integers(0, 700))))


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[AcceptedRecord | None, date]]:
    """Events in arrival order: the record received (None: the earlier records are read back as copies)
    and the day the subject is graded after it. Some penalties arrive late: after amendments of them."""
    events: list[tuple[AcceptedRecord | None, date]] = []
    penalties: list[AcceptedRecord] = []
    held: list[AcceptedRecord] = []
    for _ in range(draw(st.integers(1, 24))):
        action = draw(st.sampled_from(ACTIONS))
        record: AcceptedRecord | None
        if action == "late" and held:
            record = held.pop(draw(st.integers(0, len(held) - 1)))
        elif action in ("penalty", "late") or (not penalties and action in ("correction", "revocation", "repair")):
            kinds = draw(st.sampled_from(KINDS))
            fine = draw(st.sampled_from([0.1, 3, 3.000001, 12])) if "罚款" in kinds else None
            licence = draw(st.sampled_from(["营业执照", "食品经营许可证"])) if "吊销许可证件" in kinds else None
            confiscated = 2 if "没收违法所得" in kinds else None
            department = draw(st.sampled_from(["AMR", "AMR", "TAX"]))
            record = penalty(
                _day(draw), *kinds, fine=fine, confiscated=confiscated, licence=licence, department=department
            )
            penalties.append(record)
            if action == "late":
                held.append(record)  # amendments may name it before it arrives
                record = None
        elif action == "correction":
            target = draw(st.sampled_from(penalties))
            record = correction(target, _day(draw), CF_NR_FK=draw(st.sampled_from([0.5, 9])), CF_JDRQ=_day(draw))
        elif action == "revocation":
            record = revocation(draw(st.sampled_from(penalties)), _day(draw))
        elif action == "repair":
            record = repair(draw(st.sampled_from(penalties)), _day(draw))
        elif action == "registration":
            record = registration(draw(st.sampled_from(["设立", "变更", "恢复营业", "停业"])), _day(draw))
        elif action == "reward":
            record = reward(_day(draw))
        elif action == "listing":
            record = draw(
                st.sampled_from(
                    [
                        serious_listing("认定", _day(draw), impact=True),
                        serious_listing("移出", _day(draw)),
                        abnormal("列入", _day(draw)),
                    ]
                )
            )
        else:
            record = None
        events.append((record, START + timedelta(days=draw(st.integers(0, 900)))))
    events += [(record, START + timedelta(days=draw(st.integers(0, 900)))) for record in held]
    return events


def _fresh(records: list[AcceptedRecord]) -> list[AcceptedRecord]:
    """Equal records with nothing derived (`replace` starts `derived` anew)."""
    return [replace(r) for r in records]


@settings(max_examples=60, deadline=None, database=None)
@given(events=histories())
def test_grades_from_kept_state_equal_grades_from_scratch(
    rule_sets: RuleSets, events: list[tuple[AcceptedRecord | None, date]]
) -> None:
    kept = KeptSubjects(min_records=1)
    received: list[AcceptedRecord] = []
    for record, day in events:
        # None: the next batch reads the records back from the table (equal, not the same objects).
        received = _fresh(received) if record is None else [*received, record]
        if not received:
            continue
        incremental = kept.of(COMPANY, received)
        scratch = _fresh(received)
        subject = subject_of(COMPANY, scratch)
        assert subject_of(COMPANY, incremental) == subject
        for rule_set_id in ("chongqing-amr", "benxi-2017"):
            expected = compute(scratch, subject, rule_sets, rule_set_id, day)
            assert compute(incremental, subject, rule_sets, rule_set_id, day) == expected, (rule_set_id, day)
        assert build_credit_file(incremental, as_of=day, subject_kind="legal_person") == build_credit_file(
            scratch, as_of=day, subject_kind="legal_person"
        )


def test_a_long_history_is_extended_not_rederived(rule_sets: RuleSets) -> None:
    """300 penalties received one by one: each event extends the kept state (the same effective records
    plus one), and a correction of an early penalty derives it anew, still equal to a fresh evaluation."""
    kept = KeptSubjects(min_records=1)
    received: list[AcceptedRecord] = []
    day = date(2026, 12, 7)
    previous: SubjectRecords | None = None
    for n in range(300):
        received.append(penalty(str(day - timedelta(days=1 + n % 5)), "罚款", fine=2.5 if n % 3 else 4))
        current = kept.of(COMPANY, received)
        if previous is not None:  # extended: the effective records derived before are the same objects
            assert {id(e) for e in previous.effective} < {id(e) for e in current.effective}
        compute(current, subject_of(COMPANY, current), rule_sets, "chongqing-amr", day)
        previous = current
    received.append(correction(received[0], str(day - timedelta(days=1)), CF_NR_FK=9))
    current = kept.of(COMPANY, received)
    scratch = _fresh(received)
    subject = subject_of(COMPANY, scratch)
    assert compute(current, subject, rule_sets, "chongqing-amr", day) == compute(
        scratch, subject, rule_sets, "chongqing-amr", day
    )


class _Alive:
    """Put in a memo: alive as long as the memo is."""


def test_a_graded_subject_dropped_from_the_kept_state_is_freed_without_the_cyclic_collector(
    rule_sets: RuleSets,
) -> None:
    """Its records, penalties and what the rules kept with them are in no reference cycle, so dropping the
    subject frees them at once (docs/decisions.md, issue 18: the full collections walked the kept state)."""
    day = date(2026, 12, 7)
    received = [
        penalty(str(day - timedelta(days=1 + n % 400)), *KINDS[n % len(KINDS)], fine=2.5 if n % 3 else 4)
        for n in range(60)
    ]
    kept = KeptSubjects(max_records=len(received), min_records=1)
    gc.collect()
    gc.disable()
    try:
        current = kept.of(COMPANY, received)
        for rule_set_id in ("chongqing-amr", "benxi-2017"):
            for on in (day, day + timedelta(days=200), day + timedelta(days=500)):
                compute(current, subject_of(COMPANY, current), rule_sets, rule_set_id, on)
        memos = [r.derived for r in received]
        memos += [v.memo for r in received for v in r.derived.values() if isinstance(v, Penalty)]
        assert len(memos) > len(received)
        alive = []
        for memo in memos:
            marker = memo[_Alive] = _Alive()
            alive.append(weakref.ref(marker))
        del marker, memo, memos, current, received
        kept.of(SHOP, [penalty(str(day), "警告")])  # drops the company's kept state
        assert len(kept) == 1
        assert [ref for ref in alive if ref() is not None] == []
    finally:
        gc.enable()
