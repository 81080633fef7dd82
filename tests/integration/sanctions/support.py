"""Records, events and waits for the sanctions tests: everything goes through the public APIs and topics."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from services.common.envelope import CloudEvent
from tests import factories
from tests.conftest import unique
from tests.helpers import eventually, find_on_topic, header

EVERY_LISTING_DEPARTMENT = ["AMR", "DRC", "HOUSING", "TAX"]  # implementers of the serious-listing measures
RECORD_TRIGGERS = ("serious_untrustworthy_listing", "judgment_defaulter_listing", "red_list")


def bearer(tokens: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['TOKEN_' + who]}"}


async def report(ingest: httpx.AsyncClient, tokens: dict[str, str], record: dict[str, Any]) -> None:
    who = record["id"].split("-")[0]
    response = await ingest.post("/v1/records", json=record, headers=bearer(tokens, who))
    assert response.status_code == 202, response.text


def _subject(record: dict[str, Any], code: str, kind: str, name: str) -> None:
    record["subject"] = {"kind": kind, "code": code, "name": name}


def _dated(record: dict[str, Any], on: str) -> dict[str, Any]:
    record["decision_date"] = on
    record["data"]["decision_date"] = on
    return record


def serious_listing(
    code: str,
    *,
    kind: str = "legal_person",
    on: str = "2026-11-02",
    period_end: str | None = "2029-11-01",
    persons: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """住建局 lists the subject as 严重失信 (认定); `persons` are (role, citizen ID) of related persons."""
    record = factories.fresh(factories.examples("serious_untrustworthy_listing")[1], "HOUSING")
    _subject(record, code, kind, "示范县某某建材有限公司" if kind != "natural_person" else "王某某")
    record["data"].pop("related_persons")
    if persons:
        record["data"]["related_persons"] = [
            {"role": role, "name": f"责任人{n}", "id_type": "身份证", "id_number": number}
            for n, (role, number) in enumerate(persons, start=1)
        ]
    record["data"].pop("listing_period_end")
    if period_end:
        record["data"]["listing_period_end"] = period_end
    return _dated(record, on)


def notice(code: str, *, on: str, deadline: str) -> dict[str, Any]:
    """住建局's 拟列入告知 to the subject (same list as `serious_listing`), objections until `deadline`."""
    record = factories.fresh(factories.examples("serious_untrustworthy_listing")[0], "HOUSING")
    _subject(record, code, "legal_person", "示范县某某建材有限公司")
    record["data"]["objection_deadline"] = deadline
    return _dated(record, on)


def removal(listing: dict[str, Any], *, on: str, reason: str = "信用修复") -> dict[str, Any]:
    record = factories.fresh(listing, "HOUSING")
    for field in ("related_persons", "listing_period_end"):
        record["data"].pop(field, None)
    record["data"] |= {"stage": "移出", "removal_reason": reason, "document_kind": "移出严重失信主体名单决定书"}
    return _dated(record, on)


def revocation(target: dict[str, Any], *, on: str, objection_id: str | None = None) -> dict[str, Any]:
    department = target["id"].split("-")[0]
    record = factories.fresh(factories.examples("record_revocation")[0], department)
    record["subject"] = dict(target["subject"])
    record["data"]["target_record_id"] = target["id"]
    if objection_id:
        record["data"] |= {"reason_kind": "异议核实", "objection_id": objection_id}
        record["data"].pop("document_no")
    return _dated(record, on)


def repair_decision(target: dict[str, Any], repair_id: str, decision: str, *, on: str) -> dict[str, Any]:
    """The deciding department's 信用修复决定 on ``target`` (谁认定、谁修复)."""
    department = target["id"].split("-")[0]
    record = factories.fresh(factories.examples("repair_decision")[0], department)
    record["subject"] = dict(target["subject"])
    record["data"] |= {"repair_id": repair_id, "target_record_id": target["id"], "decision": decision}
    record["data"].pop("document_no")
    return _dated(record, on)


def court_listing(
    code: str, *, kind: str = "legal_person", able_but_refusing: bool, persons: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    record = factories.fresh(factories.examples("judgment_defaulter_listing")[0], "COURT")
    _subject(record, code, kind, "王某某" if kind == "natural_person" else "示范县某某商贸有限公司")
    record["data"]["case_no"] = f"（2026）渝0101执{unique('')[1:7]}号"
    record["data"]["able_but_refusing"] = able_but_refusing
    record["data"].pop("related_persons")
    if persons:
        record["data"]["related_persons"] = [
            {"role": role, "name": "李某", "id_type": "身份证", "id_number": number} for role, number in persons
        ]
    return _dated(record, "2026-11-05")


def red_list(code: str) -> dict[str, Any]:
    record = factories.fresh(factories.examples("red_list")[0], "DRC")
    _subject(record, code, "legal_person", "示范县某某诚信建设有限公司")
    return _dated(record, "2026-11-06")


def feedback(
    subject: dict[str, Any], *, department: str, case_id: str, measure_id: str, action: str = "已执行"
) -> dict[str, Any]:
    record = factories.fresh(factories.examples("sanction_feedback")[0], department)
    record["subject"] = dict(subject)
    record["data"] |= {
        "case_id": case_id,
        "instruction_id": f"{case_id}:{department}",
        "measure_id": measure_id,
        "action_taken": action,
    }
    record["data"].pop("matter")
    record["data"].pop("business_ref")
    return _dated(record, "2026-11-19")


def verification(listing: dict[str, Any], *, objection_id: str, outcome: str, on: str) -> dict[str, Any]:
    record = factories.fresh(factories.examples("objection_verification")[0], listing["id"].split("-")[0])
    record["subject"] = dict(listing["subject"])
    record["data"] |= {"objection_id": objection_id, "target_record_id": listing["id"], "outcome": outcome}
    return _dated(record, on)


def case_id_of(listing: dict[str, Any]) -> str:
    return f"case-{listing['id'].split('-')[0]}-{listing['id']}"


# -- events other services publish ------------------------------------------------------------------------


async def publish(producer: AIOKafkaProducer, topic: str, event: CloudEvent) -> None:
    await producer.send_and_wait(topic, value=event.kafka_value(), key=event.kafka_key(), headers=event.kafka_headers())


def objection_filed(listing: dict[str, Any], *, filed_at: str) -> CloudEvent:
    """As publish announces an objection (异议) on a department's record."""
    objection_id = unique("OBJ")
    code = listing["subject"]["code"]
    return CloudEvent(
        id=f"objection:{objection_id}:filed",
        source="/services/publish",
        type="cn.credit.objection.filed",
        subject=code,
        time=datetime.fromisoformat(filed_at),
        data={
            "objection_id": objection_id,
            "department": listing["id"].split("-")[0],
            "record_id": listing["id"],
            "subject_code": code,
            "filed_at": filed_at,
        },
    )


def grade_changed(
    code: str,
    *,
    rule_set: str,
    old: str | None,
    new: str | None,
    effective: str,
    resting_on: Sequence[dict[str, Any]] = (),
) -> CloudEvent:
    """As grading announces a grade change; `resting_on`: the records its explanation names."""
    named = {"explanation_records": [{"department": r["id"].split("-")[0], "record_id": r["id"]} for r in resting_on]}
    return CloudEvent(
        id=f"grade:{rule_set}:{code}:{effective}:{new}",
        source="/services/grading",
        type="cn.credit.grade.changed",
        subject=code,
        time=datetime.fromisoformat(f"{effective}T20:00:00+08:00"),
        data={
            "code": code,
            "old_grade": old,
            "new_grade": new,
            "rule_set": rule_set,
            "rule_set_version": "1",
            "effective_date": effective,
            "reason": "test",
            "subject_kind": "legal_person",
        }
        | (named if resting_on else {}),
    )


# -- reading the sanctions API ----------------------------------------------------------------------------


async def cases_of(
    sanctions: httpx.AsyncClient,
    tokens: dict[str, str],
    code: str,
    who: str = "COUNTY",
    *,
    kinds: Collection[str] | None = RECORD_TRIGGERS,
) -> list[dict[str, Any]]:
    """The subject's cases; by default only those its records opened. Grading runs beside us in a full
    test session and grades every subject it sees, so grade cases may appear that a test did not make."""
    response = await sanctions.get("/v1/cases", params={"code": code}, headers=bearer(tokens, who))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["cases"]
    return [c for c in found if kinds is None or c["trigger"]["kind"] in kinds]


async def wait_case(
    sanctions: httpx.AsyncClient,
    tokens: dict[str, str],
    code: str,
    ready: Callable[[dict[str, Any]], bool],
    what: str,
    *,
    kinds: Collection[str] | None = RECORD_TRIGGERS,
    timeout: float = 30.0,
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        return next((c for c in await cases_of(sanctions, tokens, code, kinds=kinds) if ready(c)), None)

    return await eventually(check, timeout=timeout, what=what)


async def restrictions(
    sanctions: httpx.AsyncClient,
    tokens: dict[str, str],
    code: str,
    matter: str,
    *,
    on: str | None = None,
    who: str = "DRC",
    purpose: str | None = None,
) -> dict[str, Any]:
    params = {"matter": matter} | ({"on": on} if on else {}) | ({"purpose": purpose} if purpose else {})
    response = await sanctions.get(f"/v1/subjects/{code}/restrictions", params=params, headers=bearer(tokens, who))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def measure_ids(answer: dict[str, Any], key: str = "measures") -> set[str]:
    return {m["measure_id"] for m in answer[key]}


async def sanction_event(bootstrap: str, topic: str, case_id: str, event: str) -> dict[str, Any]:
    """The first `cn.credit.sanction.<event>` about a case on the outcome topic, as the county reads it."""
    message = await find_on_topic(
        bootstrap,
        topic,
        lambda m: (
            header(m, "ce_type") == f"cn.credit.sanction.{event}"
            and orjson.loads(m.value or b"{}").get("case_id") == case_id
        ),
    )
    data: dict[str, Any] = orjson.loads(message.value or b"{}")
    return data
