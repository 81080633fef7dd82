"""Grading tells whether a new grade differs from the stored row by the stored explanation's digest, never
reading the explanation back (services/grading/store.py: `load_heads`, `grade_write`, `unchanged`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from services.grading import store
from services.grading.rules.grades import StoredGrade

GRADE = StoredGrade(
    code="91500101MA00000001",
    rule_set="chongqing",
    rule_set_version=1,
    grade="B",
    since=date(2026, 11, 2),
    next_review=date(2027, 11, 2),
    review_on=date(2027, 11, 2),
    supervision_level="II",
    reason="一般失信",
    subject_kind="legal_person",
    explanation=[{"department": "AMR", "record_id": f"AMR-{n}", "text": "罚款"} for n in range(300)],
    computed_on=date(2026, 12, 7),
)


def _head(grade: StoredGrade, digest: bytes | None) -> store.StoredHead:
    """The row as `load_heads` reads it back: no explanation, its digest."""
    return store.StoredHead(replace(grade, explanation=[]), digest)


def test_the_same_grade_is_not_written_again() -> None:
    stored = store.grade_write("某公司", GRADE)
    again = store.grade_write("某公司", replace(GRADE, explanation=[dict(e) for e in GRADE.explanation]))
    assert store.unchanged(again, _head(GRADE, stored.digest))


def test_a_grade_differing_only_in_its_explanation_is_written() -> None:
    stored = store.grade_write("某公司", GRADE)
    longer = replace(GRADE, explanation=[*GRADE.explanation, {"department": "TAX", "record_id": "T-1", "text": "x"}])
    assert not store.unchanged(store.grade_write("某公司", longer), _head(GRADE, stored.digest))


def test_a_grade_differing_in_another_column_is_written() -> None:
    stored = store.grade_write("某公司", GRADE)
    for changed in (
        replace(GRADE, grade="C"),
        replace(GRADE, review_on=date(2027, 1, 1)),
        replace(GRADE, computed_on=date(2026, 12, 8)),
    ):
        assert not store.unchanged(store.grade_write("某公司", changed), _head(GRADE, stored.digest))


def test_a_row_without_a_digest_and_a_first_grade_are_written() -> None:
    write = store.grade_write("某公司", GRADE)
    assert not store.unchanged(write, _head(GRADE, None))  # written before digests were kept
    assert not store.unchanged(write, None)
