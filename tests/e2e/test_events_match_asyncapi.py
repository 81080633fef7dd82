"""Every event the services emit validates against its message in schemas/asyncapi.yaml: headers and
payload. A flow through the four real service processes makes each kind of service emit (records, a
publication, a sanctions case, an objection, access logs); then every message on every topic of the run
(its own and whatever earlier tests left, dead letters included) is checked — an event whose type the
AsyncAPI file does not describe fails too."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import orjson
import yaml
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy.stack import Stack
from services.common.clock import SHANGHAI
from tests import factories
from tests.helpers import eventually, partitions_of

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
ASYNCAPI_URI = (SCHEMAS / "asyncapi.yaml").as_uri()
DOCUMENT: dict[str, Any] = yaml.safe_load((SCHEMAS / "asyncapi.yaml").read_text(encoding="utf-8"))
MESSAGES: dict[str, Any] = DOCUMENT["components"]["messages"]
EXPECTED = {
    "cn.credit.record.administrative_penalty.v1",
    "cn.credit.record.judgment_defaulter_listing.v1",
    "cn.credit.disclosure.published",
    "cn.credit.sanction.case_opened",
    "cn.credit.sanction.instruction",
    "cn.credit.objection.filed",
    "cn.credit.audit.access",
}


def _retrieve(uri: str) -> Any:
    """The AsyncAPI file itself and the JSON Schemas it refers to (records, envelope), from schemas/."""
    path = Path(uri.removeprefix("file://").split("#")[0])
    text = path.read_text(encoding="utf-8")
    return yaml.safe_load(text) if path.suffix == ".yaml" else orjson.loads(text)


def _validator(pointer: str) -> jsonschema_rs.Validator:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": f"{ASYNCAPI_URI}#{pointer}"}
    return jsonschema_rs.validator_for(schema, retriever=_retrieve, validate_formats=True)


def _pattern(name: str) -> re.Pattern[str]:
    """A message name as a pattern of ce_type: `cn.credit.sanction.<event>` stands for every event."""
    return re.compile("^" + re.escape(name).replace("<event>", "[a-z_]+") + "$")


VALIDATORS: list[tuple[re.Pattern[str], str, jsonschema_rs.Validator, jsonschema_rs.Validator]] = [
    (
        _pattern(message["name"]),
        key,
        _validator(f"/components/messages/{key}/headers"),
        _validator(f"/components/messages/{key}/payload"),
    )
    for key, message in MESSAGES.items()
    if message["name"].startswith("cn.credit.")
]
DEAD_LETTER_HEADERS = _validator("/components/messages/deadLetter/headers")


def problems_of(message: ConsumerRecord[bytes, bytes]) -> list[str]:
    """What is wrong with one message against the AsyncAPI file (empty when nothing)."""
    headers = {k: v.decode() for k, v in message.headers}
    where = f"{message.topic}@{message.partition}:{message.offset}"
    if message.topic.endswith(".dlq"):
        return [f"{where}: {e.message}" for e in DEAD_LETTER_HEADERS.iter_errors(headers)]
    ce_type = headers.get("ce_type", "")
    matching = [(key, h, p) for pattern, key, h, p in VALIDATORS if pattern.match(ce_type)]
    if not matching:
        return [f"{where}: ce_type {ce_type!r} is described by no message of asyncapi.yaml"]
    key, header_schema, payload_schema = matching[0]
    payload = orjson.loads(message.value or b"null")
    errors = [f"{where} ({key}) headers: {e.message}" for e in header_schema.iter_errors(headers)]
    errors += [f"{where} ({key}) payload {e.instance_path}: {e.message}" for e in payload_schema.iter_errors(payload)]
    return errors


async def _everything_on(bootstrap: str, prefix: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every message now on every topic of the run (up to each partition's end when called)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(prefix)]
    finally:
        await admin.close()
    partitions = [TopicPartition(t, p) for t in topics for p in await partitions_of(bootstrap, t)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning()
        ends = await consumer.end_offsets(partitions)
        pending = {tp for tp in partitions if ends[tp] > 0}
        found: list[ConsumerRecord[bytes, bytes]] = []
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=500)
            for tp, messages in batches.items():
                found += [m for m in messages if m.offset < ends[tp]]
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
        return found
    finally:
        await consumer.stop()


def _types(messages: list[ConsumerRecord[bytes, bytes]], keep: Callable[[dict[str, str]], bool]) -> set[str]:
    seen = set()
    for message in messages:
        headers = {k: v.decode() for k, v in message.headers}
        if keep(headers):
            seen.add(headers.get("ce_type", ""))
    return seen


async def test_every_event_the_services_emit_validates_against_its_asyncapi_message(
    services_running: Stack, tokens: dict[str, str]
) -> None:
    url = services_running.service_url
    # Decided yesterday (the processes run on the real clock), and a 一般 fine (20 万元): published under every
    # rule set in force (36号令 does not publish 轻微 penalties).
    yesterday = (datetime.now(SHANGHAI) - timedelta(days=1)).date().isoformat()
    penalty = factories.penalty(decision_date=yesterday, fine=20.0)
    listing = factories.fresh(factories.examples("judgment_defaulter_listing")[0], "COURT")

    def bearer(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens['TOKEN_' + who]}"}

    async with httpx.AsyncClient(timeout=30) as http:
        for record, who in ((penalty, "AMR"), (listing, "COURT")):
            posted = await http.post(url("ingest") + "/v1/records", json=record, headers=bearer(who))
            assert posted.status_code == 202, posted.text
        public_id = f"AMR.{penalty['id']}"

        async def published() -> bool:
            return (await http.get(url("publish") + f"/v1/disclosures/{public_id}")).status_code == 200

        await eventually(published, timeout=60, what=f"{public_id} on the portal")
        code = penalty["subject"]["code"]
        objection = {"record_id": public_id, "subject_code": code, "reason": "处罚金额有误", "contact": "13800000000"}
        filed = await http.post(url("publish") + "/v1/objections", json=objection)
        assert filed.status_code == 201, filed.text
        reads = [
            url("grading") + f"/v1/subjects/{code}/grade",
            url("sanctions") + f"/v1/subjects/{listing['subject']['code']}/restrictions?matter=government_procurement",
            url("ingest") + f"/v1/records/{penalty['id']}",
        ]
        for read in reads:
            answer = await http.get(read, headers=bearer("AMR"))
            assert answer.status_code == 200, f"{read}: {answer.text}"

    bootstrap, prefix = services_running.bootstrap, services_running.config.topic_prefix
    ours = {penalty["subject"]["code"], listing["subject"]["code"]}

    async def all_kinds_emitted() -> list[ConsumerRecord[bytes, bytes]] | None:
        messages = await _everything_on(bootstrap, prefix)
        return messages if _types(messages, lambda h: h.get("ce_subject") in ours) >= EXPECTED else None

    messages = await eventually(all_kinds_emitted, timeout=90, what=f"events of every kind: {sorted(EXPECTED)}")
    problems = [problem for message in messages for problem in problems_of(message)]
    assert not problems, f"{len(problems)} problem(s) in {len(messages)} messages:\n" + "\n".join(problems[:40])
