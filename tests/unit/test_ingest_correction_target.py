"""Ingest's correction-target rule (services/ingest/rules.py), pure: the API test of the same refusals is
tests/integration (amendments and repairs through POST /v1/records)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.ingest.rules import correction_target_problems


@dataclass(frozen=True)
class Stored:
    record_type: str
    subject_code: str


def _record(kind: str, code: str = "S1") -> dict[str, Any]:
    return {"type": kind, "subject": {"code": code}, "data": {"target_record_id": "AMR-1"}}


def _codes(record: dict[str, Any], target: Stored | None) -> list[tuple[str, str]]:
    return [(p.path, p.code) for p in correction_target_problems(record, "AMR", target)]


def test_a_correction_of_an_earlier_penalty_of_the_same_subject_is_right() -> None:
    assert _codes(_record("record_correction"), Stored("administrative_penalty", "S1")) == []


def test_an_unknown_target_is_refused() -> None:
    assert _codes(_record("record_revocation"), None) == [("/data/target_record_id", "unknown_target")]


def test_a_target_about_another_subject_is_refused() -> None:
    target = Stored("administrative_penalty", "S2")
    assert _codes(_record("record_correction"), target) == [("/subject/code", "subject_mismatch")]


def test_a_repair_of_a_type_that_cannot_be_repaired_is_refused() -> None:
    target = Stored("administrative_licensing", "S1")
    assert _codes(_record("repair_decision"), target) == [("/data/target_record_id", "invalid_target")]
    assert _codes(_record("repair_decision"), Stored("serious_untrustworthy_listing", "S1")) == []


def test_a_correction_cannot_itself_be_amended() -> None:
    target = Stored("record_correction", "S1")
    assert _codes(_record("record_revocation"), target) == [("/data/target_record_id", "invalid_target")]
