"""Kafka authentication and authorization on a real secure broker of its own (SASL_PLAINTEXT with
SCRAM-SHA-512, the StandardAuthorizer, `allow.everyone.if.no.acl.found=false`, the ACLs of
`services/topics.py: kafka_acls`), started as `EXCHANGE_KAFKA_SECURE=1 make up` starts it:

only ingest writes record topics; a department's or the county's credential cannot; the county reads
outcome topics and not record topics; the auditor reads record topics; a wrong password is refused; and
the four services, each with its own Kafka user, carry a record end to end."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)
from sqlalchemy import text

from deploy.processes import free_port
from deploy.stack import SERVICES, Stack, StackConfig
from services.audit.topic_reader import read_all
from services.common.db import create_engine
from services.common.kafka import KafkaAuth, broker_problem, make_consumer, make_producer
from services.manifests import MANIFESTS
from tests import factories
from tests.helpers import eventually
from tests.reliability.isolated import scratch_database


@pytest.fixture(scope="module")
def secure(stack: Stack) -> Iterator[Stack]:
    """A secure broker with its topics and ACLs, on a database of its own in the session PostgreSQL."""
    with scratch_database(stack.database_url, "acl") as database_url:
        config = StackConfig(
            state_dir=stack.config.state_dir / "kafka-acl",
            kafka_port=free_port(),
            controller_port=free_port(),
            service_ports={svc: free_port() for svc in SERVICES},
            topic_prefix=f"s{uuid.uuid4().hex[:6]}.",
            external_kafka=None,
            external_database=database_url,
            kafka_secure=True,
            kafka_extra_users=("dept-amr",),  # a department-like credential with no ACL at all
        )
        secure_stack = Stack(config)
        try:
            secure_stack.start_infra()
            yield secure_stack
        finally:
            secure_stack.stop_services()
            secure_stack.stop_infra()


def topic(stack: Stack, name: str) -> str:
    return stack.config.topic_prefix + name


@pytest.fixture
async def ingest_producer(secure: Stack) -> AsyncIterator[AIOKafkaProducer]:
    """The producer the ingest relay uses (idempotent, acks=all), logged in as ingest."""
    producer = make_producer(secure.bootstrap, client_id="test-ingest", auth=secure.kafka_auth("ingest"))
    try:
        await producer.start()
        yield producer
    finally:
        await producer.stop()


async def test_the_ingest_user_writes_record_topics(secure: Stack, ingest_producer: AIOKafkaProducer) -> None:
    sent = await ingest_producer.send_and_wait(topic(secure, "records.acts"), b"{}", key=b"91500101TEST")
    assert sent.offset >= 0


@pytest.mark.parametrize("user", ["dept-amr", "county", "auditor", "grading"])
async def test_no_other_user_writes_a_record_topic(secure: Stack, user: str) -> None:
    """A department credential, the county, the auditor and a consuming service are all refused on the
    topic itself (a plain producer, so the broker's topic check is what answers)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=secure.bootstrap,
        acks="all",
        request_timeout_ms=10_000,
        **secure.kafka_auth(user).client_options(),
    )
    try:
        await producer.start()
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(topic(secure, "records.acts"), b"{}", key=b"91500101FORGED")
    finally:
        await producer.stop()


async def test_a_user_with_no_acl_cannot_even_start_an_idempotent_producer(secure: Stack) -> None:
    """The relay's producer needs WRITE on some topic to get a producer id: a department credential has none."""
    producer = make_producer(secure.bootstrap, client_id="test-dept", auth=secure.kafka_auth("dept-amr"))
    try:
        with pytest.raises(ClusterAuthorizationFailedError):
            await producer.start()
    finally:
        await producer.stop()


async def test_the_county_reads_outcome_topics_and_not_record_topics(
    secure: Stack, ingest_producer: AIOKafkaProducer
) -> None:
    marker = uuid.uuid4().hex.encode()
    # grading writes its own outcome topic (and only grading may).
    grading = make_producer(secure.bootstrap, client_id="test-grading", auth=secure.kafka_auth("grading"))
    try:
        await grading.start()
        await grading.send_and_wait(topic(secure, "outcomes.grades"), marker, key=b"91500101GRADE")
    finally:
        await grading.stop()
    await ingest_producer.send_and_wait(topic(secure, "records.acts"), marker, key=b"91500101GRADE")

    county = secure.kafka_auth("county")
    feed = make_consumer(
        secure.bootstrap,
        group_id=topic(secure, "county-feed"),  # the county's groups are `<prefix>county…`
        topics=[topic(secure, "outcomes.grades")],
        client_id="test-county",
        auth=county,
    )
    try:
        await feed.start()

        async def read_marker() -> bool:
            batches = await feed.getmany(timeout_ms=500)
            return any(m.value == marker for messages in batches.values() for m in messages)

        await eventually(read_marker, timeout=30, what="the county reading the grade outcome")
    finally:
        await feed.stop()

    # The same subscription to a record topic: the broker does not even describe it to the county.
    records = AIOKafkaConsumer(
        topic(secure, "records.acts"),
        bootstrap_servers=secure.bootstrap,
        enable_auto_commit=False,
        request_timeout_ms=10_000,
        **county.client_options(),
    )
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await records.start()
    finally:
        await records.stop()


async def test_the_auditor_reads_record_topics(secure: Stack, ingest_producer: AIOKafkaProducer) -> None:
    marker = uuid.uuid4().hex.encode()
    await ingest_producer.send_and_wait(topic(secure, "records.acts"), marker, key=b"91500101AUDIT")
    seen = [
        m.value
        async for m in read_all(secure.bootstrap, [topic(secure, "records.acts")], auth=secure.kafka_auth("auditor"))
    ]
    assert marker in seen


async def test_a_wrong_password_is_refused(secure: Stack, caplog: pytest.LogCaptureFixture) -> None:
    real = secure.kafka_auth("ingest")
    wrong = KafkaAuth(real.security_protocol, real.sasl_mechanism, "ingest", "not-" + (real.password or ""))
    assert await broker_problem(secure.bootstrap, auth=real) is None
    problem = await broker_problem(secure.bootstrap, auth=wrong)
    assert problem is not None
    assert "'ingest'" in problem
    assert wrong.password not in problem  # the operator's message names the user, never the password
    assert wrong.password not in repr(wrong)
    producer = make_producer(secure.bootstrap, client_id="test-wrong", auth=wrong)
    with caplog.at_level(logging.ERROR, logger="aiokafka"), pytest.raises(KafkaConnectionError):
        await producer.start()
    await producer.stop()
    assert "SaslAuthenticationFailed" in caplog.text  # refused by SCRAM, not merely unreachable


async def test_the_services_carry_a_record_end_to_end_each_with_its_own_user(secure: Stack) -> None:
    """ingest's relay writes the record, the three consumers read it with their groups, publish's relay
    writes the disclosure the county reads, grading's relay writes the access log the auditor reads."""
    tokens = secure.ensure_demo_tokens()
    secure.start_services()
    record = factories.penalty(fine=20.0)  # 一般 for a company: published (a 轻微 fine is withheld)
    code = record["subject"]["code"]
    headers = {"Authorization": f"Bearer {tokens['TOKEN_AMR']}"}
    async with httpx.AsyncClient(base_url=secure.service_url("ingest")) as client:
        response = await client.post("/v1/records", json=record, headers=headers)
    assert response.status_code == 202, response.text
    engine = create_engine(secure.database_url, pool_size=1)
    try:

        async def applied_everywhere() -> bool:
            async with engine.connect() as conn:
                for schema in (m.schema for m in MANIFESTS if m.records):  # the bridge reads no record
                    row = await conn.execute(
                        text(f"SELECT status FROM {schema}.inbox WHERE event_id = :id"), {"id": f"AMR/{record['id']}"}
                    )
                    if row.scalar_one_or_none() != "applied":
                        return False
            return True

        await eventually(applied_everywhere, timeout=60, what="the record in every consumer's inbox")
    finally:
        await engine.dispose()
    async with httpx.AsyncClient(base_url=secure.service_url("grading")) as client:
        grade = await client.get(f"/v1/subjects/{code}/grade", params={"purpose": "acl test"}, headers=headers)
    assert grade.status_code == 200, grade.text

    disclosures = topic(secure, "outcomes.disclosures")
    feed = make_consumer(
        secure.bootstrap,
        group_id=topic(secure, "county-e2e"),
        topics=[disclosures],
        client_id="test-county-e2e",
        auth=secure.kafka_auth("county"),
    )
    try:
        await feed.start()

        async def disclosed() -> bool:
            batches = await feed.getmany(timeout_ms=500)
            return any(m.key == code.encode() for messages in batches.values() for m in messages)

        await eventually(disclosed, timeout=60, what=f"the county reading the disclosure about {code}")
    finally:
        await feed.stop()

    auditor = secure.kafka_auth("auditor")

    async def access_logged() -> bool:
        keys = [m.key async for m in read_all(secure.bootstrap, [topic(secure, "audit.access")], auth=auditor)]
        return code.encode() in keys

    await eventually(access_logged, timeout=60, what="the auditor reading the grade read in the access log")
    passwords = secure.kafka.security.passwords.values() if secure.kafka.security else []
    for service in SERVICES:
        log = secure.service_log(service).read_text()
        assert not [p for p in passwords if p in log], f"a Kafka password in {service}'s log"
