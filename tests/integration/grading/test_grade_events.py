"""What grading publishes: grade changes on outcomes.grades (from records and from time passing), and
an access-log event for every read of a grade; and who may read one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import ConsumerRecord

from services.common.clock import SHANGHAI, FixedClock
from services.grading.rules.grades import explanation_records
from tests.helpers import find_on_topic, header
from tests.integration.grading.support import company, grade_when, mentions, penalty, read_grade, registration, report

pytestmark = pytest.mark.usefixtures("grading")


def grade_change(code: str, new_grade: str) -> Any:
    def matches(message: ConsumerRecord[bytes, bytes]) -> bool:
        data = orjson.loads(message.value or b"{}")
        return message.key == code.encode() and data.get("new_grade") == new_grade

    return matches


async def test_first_grade_and_each_change_are_published_with_old_and_new_grade(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str], stack_env: dict[str, str]
) -> None:
    topic = stack_env["EXCHANGE_TOPIC_PREFIX"] + "outcomes.grades"
    code = company()
    registered = registration(code, "2026-01-05")
    await report(ingest, tokens, registered)
    await grade_when(grading, tokens, code, mentions(registered["id"]))
    fined = penalty(code, "2026-11-10", "罚款", fine=5)
    await report(ingest, tokens, fined)
    now = await grade_when(grading, tokens, code, mentions(fined["id"]))

    first = await find_on_topic(stack_env["KAFKA_BOOTSTRAP"], topic, grade_change(code, "A"))
    assert orjson.loads(first.value or b"") == {
        "code": code,
        "old_grade": None,
        "new_grade": "A",
        "rule_set": "chongqing-amr",
        "rule_set_version": 1,
        "effective_date": "2019-07-02",
        "reason": "A 守信：一年内无计入部门（AMR）的处罚记录（000 L181-L182）(A: no counted penalty within one year)",
        "subject_kind": "legal_person",
        "supervision_level": "I",
        "old_supervision_level": None,
        "explanation_records": [{"department": "AMR", "record_id": registered["id"]}],
    }
    change = await find_on_topic(stack_env["KAFKA_BOOTSTRAP"], topic, grade_change(code, "C"))
    assert orjson.loads(change.value or b"") == {
        "code": code,
        "old_grade": "A",
        "new_grade": "C",
        "rule_set": "chongqing-amr",
        "rule_set_version": 1,
        "effective_date": "2026-11-10",
        "reason": now["reason"],
        "subject_kind": "legal_person",
        "supervision_level": "III",
        "old_supervision_level": "I",
        "explanation_records": explanation_records(now["explanation"]),  # an objection on one suspends its case
    }
    assert {"department": "AMR", "record_id": fined["id"]} in explanation_records(now["explanation"])
    assert header(change, "ce_type") == "cn.credit.grade.changed"
    assert header(change, "ce_subject") == code
    assert header(change, "ce_id") == f"grading:{code}:chongqing-amr:2026-11-10:C:III:2"


async def test_grade_change_caused_by_time_passing_is_published_on_its_date(
    ingest: httpx.AsyncClient,
    grading: httpx.AsyncClient,
    tokens: dict[str, str],
    stack_env: dict[str, str],
    at: FixedClock,
) -> None:
    topic = stack_env["EXCHANGE_TOPIC_PREFIX"] + "outcomes.grades"
    code = company()
    registered = registration(code, "2026-01-05")
    await report(ingest, tokens, registered)
    await grade_when(grading, tokens, code, mentions(registered["id"]))
    warned = penalty(code, "2026-11-10", "警告")
    await report(ingest, tokens, warned)
    warned_body = await grade_when(grading, tokens, code, mentions(warned["id"]))
    assert (warned_body["grade"], warned_body["next_review"]) == ("B", "2027-11-11")

    at.set(datetime(2027, 11, 11, 0, 30, tzinfo=SHANGHAI))  # no new record: only the date moves
    repaired = await find_on_topic(stack_env["KAFKA_BOOTSTRAP"], topic, lambda m: _repaired(m, code), timeout=30)
    body = (await read_grade(grading, tokens, code)).json()
    assert (body["as_of"], body["grade"], body["since"]) == ("2027-11-11", "A", "2027-11-11")
    assert orjson.loads(repaired.value or b"") == {
        "code": code,
        "old_grade": "B",
        "new_grade": "A",
        "rule_set": "chongqing-amr",
        "rule_set_version": 1,
        "effective_date": "2027-11-11",
        "reason": body["reason"],
        "subject_kind": "legal_person",
        "supervision_level": "I",
        "old_supervision_level": "II",
        "explanation_records": explanation_records(body["explanation"]),
    }


def _repaired(message: ConsumerRecord[bytes, bytes], code: str) -> bool:
    data = orjson.loads(message.value or b"{}")
    return message.key == code.encode() and (data.get("old_grade"), data.get("new_grade")) == ("B", "A")


# -- who may read a grade, and the access log -------------------------------------------------------------


async def test_grade_is_not_public(grading: httpx.AsyncClient) -> None:
    anonymous = await grading.get(f"/v1/subjects/{company()}/grade")
    assert anonymous.status_code == 401
    assert "grade" not in anonymous.json()
    forged = await grading.get(f"/v1/subjects/{company()}/grade", headers={"Authorization": "Bearer cx_bad_token"})
    assert forged.status_code == 401


@pytest.mark.parametrize("who", ["AMR", "HOUSING", "COUNTY", "AUDITOR"])
async def test_departments_county_and_auditors_may_read_grades(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str], who: str
) -> None:
    code = company()
    warned = penalty(code, "2026-11-02", "警告")
    await report(ingest, tokens, warned)
    await grade_when(grading, tokens, code, mentions(warned["id"]))
    response = await read_grade(grading, tokens, code, who=who)
    assert response.status_code == 200
    assert response.json()["grade"] == "B"


async def test_every_read_of_a_grade_is_logged_with_who_and_why(
    ingest: httpx.AsyncClient, grading: httpx.AsyncClient, tokens: dict[str, str], stack_env: dict[str, str]
) -> None:
    code = company()
    warned = penalty(code, "2026-11-02", "警告")
    await report(ingest, tokens, warned)
    await grade_when(grading, tokens, code, mentions(warned["id"]))
    response = await read_grade(grading, tokens, code, who="HOUSING", purpose="招投标资格审查")
    assert response.status_code == 200

    def logged(message: ConsumerRecord[bytes, bytes]) -> bool:
        data = orjson.loads(message.value or b"{}")
        return data.get("subject") == code and data.get("purpose") == "招投标资格审查"

    message = await find_on_topic(
        stack_env["KAFKA_BOOTSTRAP"], stack_env["EXCHANGE_TOPIC_PREFIX"] + "audit.access", logged
    )
    data = orjson.loads(message.value or b"")
    assert (data["department"], data["role"], data["what"]) == ("HOUSING", "department", "grade")
    assert data["answer"] == "chongqing-amr:B"
    assert header(message, "ce_type") == "cn.credit.audit.access"
