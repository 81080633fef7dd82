"""Issue 21, operations: ingest stays ready while Kafka is down and says so per dependency, the outbox
backlog gauge counts what waits, receipts carry a key id and survive a key rotation, the operator's
commands answer data as JSON and mistakes in one line, topics export to signed JSONL and import into empty
topics unchanged.

The Kafka-down tests run ingest on a database of their own (migrated here) with a broker address nobody
listens on: the session's other ingest relays its own outbox, so nothing of these tests ever reaches the
shared topics."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text

from deploy.processes import free_port
from deploy.stack import Stack
from services import backup
from services.cli import main as exchange
from services.common.auth import Role, issue, register_department
from services.common.clock import FixedClock
from services.common.db import create_engine
from services.common.migrations import upgrade_all
from services.common.production import topic_replication_problems
from services.common.settings import CommonSettings
from services.ingest import keyring
from services.ingest.receipts import ReceiptSigner, verify
from tests import factories
from tests.helpers import create_database, drop_database, eventually, scratch_url, served_in_process


@pytest.fixture(scope="module")
async def own_database(stack_env: dict[str, str]) -> AsyncIterator[str]:
    """A migrated database of these tests' own on the session's PostgreSQL, with an AMR token."""
    import asyncio

    name = f"ops_{uuid.uuid4().hex[:8]}"
    admin = create_engine(stack_env["DATABASE_URL"], pool_size=1)
    await create_database(admin, name)
    url = scratch_url(CommonSettings().database_url, name)
    await asyncio.to_thread(upgrade_all, url)
    try:
        yield url
    finally:
        await drop_database(admin, name)
        await admin.dispose()


@pytest.fixture(scope="module")
async def amr_token(own_database: str) -> str:
    engine = create_engine(own_database, pool_size=1)
    try:
        await register_department(engine, "AMR", "市场监管局")
        return (await issue(engine, role=Role.DEPARTMENT, name="市场监管局", department="AMR")).token
    finally:
        await engine.dispose()


def _ingest_without_kafka(own_database: str, key_file: Path, clock: FixedClock) -> Any:
    from services.ingest.app import create_app
    from services.ingest.settings import IngestSettings

    settings = IngestSettings(
        DATABASE_URL=own_database,
        KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}",  # nobody listens: Kafka is down
        signing_key_file=key_file,
    )
    return create_app(settings, clock=clock)


async def test_ingest_stays_ready_while_kafka_is_down_and_the_backlog_gauge_counts(
    own_database: str, amr_token: str, tmp_path: Path, clock: FixedClock
) -> None:
    key_file = tmp_path / "keys" / "receipt-ed25519.pem"
    keyring.rotate(key_file)
    app = _ingest_without_kafka(own_database, key_file, clock)
    async with served_in_process(app, "ingest") as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["problems"] == {}
        assert body["dependencies"]["database"] == "ok"
        assert "unreachable" in body["dependencies"]["kafka"]
        assert "still ready" in body["dependencies"]["kafka"]

        headers = {"Authorization": f"Bearer {amr_token}"}
        for _ in range(3):
            assert (await client.post("/v1/records", json=factories.penalty(), headers=headers)).status_code == 202

        async def three_waiting() -> bool:
            ready = (await client.get("/readyz")).json()
            metrics = (await client.get("/metrics")).text
            return ready["dependencies"]["outbox"] == "3 event(s) waiting for Kafka" and (
                'exchange_outbox_backlog{schema="ingest"} 3.0' in metrics
            )

        await eventually(three_waiting, timeout=15, what="readiness and the gauge to count 3 waiting events")


async def test_receipts_signed_before_a_key_rotation_keep_verifying(
    own_database: str, amr_token: str, tmp_path: Path, clock: FixedClock
) -> None:
    key_file = tmp_path / "keys" / "receipt-ed25519.pem"
    headers = {"Authorization": f"Bearer {amr_token}"}
    receipts = []
    for _ in range(2):
        assert exchange(["keys", "rotate", "--key-file", str(key_file)]) == 0
        async with served_in_process(_ingest_without_kafka(own_database, key_file, clock), "ingest") as client:
            response = await client.post("/v1/records", json=factories.penalty(), headers=headers)
            assert response.status_code == 202
            receipts.append(response.json()["receipt"])
            keyset = (await client.get("/v1/receipts/public-keys")).json()
    first, second = receipts
    assert first["key_id"] != second["key_id"]
    assert keyset["current"] == second["key_id"]
    ring = keyring.keys_from_json(keyset)
    assert set(ring) == {first["key_id"], second["key_id"]}
    assert verify(first, ring)
    assert verify(second, ring)
    assert not verify({**first, "key_id": second["key_id"]}, ring)  # the key id is signed too
    # A receipt from before key ids existed: no key_id, checked against every published key.
    legacy = {k: v for k, v in second.items() if k not in ("key_id", "signature")}
    legacy["signature"] = ReceiptSigner(keyring.load_private(key_file)).sign(legacy)
    assert verify(legacy, ring)
    keys_json = tmp_path / "keys.json"
    keys_json.write_bytes(orjson.dumps(keyset))
    from services.audit.commands import public_keys

    assert set(public_keys(keys_json)) == set(ring)  # `verify-receipts --public-key keys.json`


def test_operator_commands_answer_json_and_refuse_mistakes_in_one_line(
    stack_env: dict[str, str], tokens: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert exchange(["dept", "list", "--json"]) == 0
    departments = orjson.loads(capsys.readouterr().out)
    amr = next(d for d in departments if d["code"] == "AMR")
    assert amr["active_credentials"] >= 1

    assert exchange(["token", "list", "--json"]) == 0
    out = capsys.readouterr().out
    credentials = orjson.loads(out)
    assert tokens["TOKEN_AMR"].split("_")[1] in {c["credential_id"] for c in credentials}
    assert "cx_" not in out
    assert "secret" not in out

    assert exchange(["dept", "add", "NOSUCH", "不存在局"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "NOSUCH is not in the reporting catalogue" in err[0]

    assert exchange(["token", "revoke", "000000000000"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1

    assert exchange(["audit", "access", "--subject", factories.uscc(), "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out) == []

    assert exchange(["dlq", "list", "--service", "grading", "--json"]) == 0
    assert isinstance(orjson.loads(capsys.readouterr().out), list)


def test_a_bad_setting_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://somewhere/db")
    assert exchange(["dept", "list"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("exchange: configuration:")
    monkeypatch.setenv("DATABASE_URL", f"postgresql://x:y@127.0.0.1:{free_port()}/nothing")
    assert exchange(["token", "list"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


async def test_the_production_guard_reads_the_replication_of_the_real_topics_not_the_setting(
    ingest: httpx.AsyncClient,
) -> None:
    # The setting says 3, as a production values file would; the test broker's topics have one replica.
    settings = CommonSettings(EXCHANGE_KAFKA_REPLICATION_FACTOR=3)
    (line,) = await topic_replication_problems(settings)
    assert f"{settings.topic_prefix}records." in line
    assert "(1)" in line
    # A broker that cannot be reached at start is not a refusal: the service waits for it, unready.
    unreachable = settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"})
    assert await topic_replication_problems(unreachable, timeout_s=2) == []


async def test_topics_export_to_signed_jsonl_and_import_into_empty_topics_unchanged(
    ingest: httpx.AsyncClient, tokens: dict[str, str], stack: Stack, stack_env: dict[str, str], tmp_path: Path
) -> None:
    from services.common.kafka import ensure_topics
    from services.topics import topic_specs

    headers = {"Authorization": f"Bearer {tokens['TOKEN_TAX']}"}
    mine = factories.penalty(department="TAX")
    assert (await ingest.post("/v1/records", json=mine, headers=headers)).status_code == 202

    async def outbox_empty() -> bool:
        async with ingest.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
            return (await conn.execute(text("SELECT count(*) FROM ingest.outbox"))).scalar_one() == 0

    await eventually(outbox_empty, what="the outbox to drain")
    source = CommonSettings()
    key = keyring.load_private(Path(stack_env["INGEST_SIGNING_KEY_FILE"]))
    archive = tmp_path / "topics.jsonl"
    with archive.open("wb") as out:
        summary = await backup.export_topics(source, out, key, topics=["records.acts"], progress=lambda _: None)
    assert summary.topics["records.acts"] >= 1
    ring = {keyring.key_id(key.public_key()): key.public_key()}

    # "Another cluster": the same broker under a fresh prefix, its topics created empty.
    target = CommonSettings(EXCHANGE_TOPIC_PREFIX=f"restore{uuid.uuid4().hex[:6]}.")
    await ensure_topics(target.kafka_bootstrap, [s for s in topic_specs(target) if s.name.endswith("records.acts")])
    written = await backup.import_topics(target, archive, ring, progress=lambda _: None)
    assert written == {"records.acts": summary.lines}

    imported = tmp_path / "again.jsonl"
    with imported.open("wb") as out:
        await backup.export_topics(target, out, key, topics=["records.acts"], progress=lambda _: None)

    def messages(path: Path) -> list[tuple[Any, ...]]:
        """Per partition, in the partition's order (an export interleaves partitions as the broker answers;
        Kafka orders messages within a partition only, and so does the promise of an import)."""
        rows = [orjson.loads(line) for line in path.read_bytes().splitlines()[:-1]]
        found = [(r["partition"], r["key"], r["headers"], r["value"], r["timestamp"]) for r in rows]
        return sorted(found, key=lambda m: m[0])  # stable: keeps each partition's order

    assert messages(imported) == messages(archive)  # same partitions, order, keys, headers, bodies, times
    assert any(f"TAX/{mine['id']}" in str(m[2]) for m in messages(imported))

    with pytest.raises(backup.ImportRefused, match="not empty"):
        await backup.import_topics(target, archive, ring, progress=lambda _: None)
    tampered = tmp_path / "tampered.jsonl"
    lines = archive.read_bytes().splitlines(keepends=True)
    tampered.write_bytes(lines[0].replace(b'"partition":', b'"partition" :', 1) + b"".join(lines[1:]))
    with pytest.raises(backup.ImportRefused, match=r"differs|signature"):
        backup.verify_export(tampered, ring)


async def test_consumer_group_lag_rises_while_the_group_is_stuck_and_falls_when_it_catches_up(stack: Stack) -> None:
    """`exchange_consumer_group_lag{group}` counts what a group has not applied, also while every poll is
    retried (the loop reports it every 5 s whatever happens), and reads 0 once the group caught up."""
    import asyncio

    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import NewTopic
    from prometheus_client import REGISTRY

    from services.common.consumer import ConsumerLoop, TransientError
    from services.common.kafka import make_admin, make_consumer
    from tests.helpers import record_event

    topic, group = f"lagcheck.{uuid.uuid4().hex[:8]}", f"lagcheck-{uuid.uuid4().hex[:8]}"
    admin = make_admin(stack.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    try:
        for i in range(5):
            event = record_event(factories.penalty(), i + 1)
            await producer.send_and_wait(
                topic, event.kafka_value(), key=event.kafka_key(), headers=event.kafka_headers()
            )
    finally:
        await producer.stop()
    stuck = True

    async def handle(conn: Any, event: Any) -> None:
        if stuck:
            raise TransientError("the environment is down (as a database outage would be)")

    def lag() -> float | None:
        return REGISTRY.get_sample_value("exchange_consumer_group_lag", {"group": group})

    engine = create_engine(stack.database_url, pool_size=2)
    consumer = make_consumer(stack.bootstrap, group_id=group, topics=[topic], client_id=group)
    dlq = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await consumer.start()
    await dlq.start()
    stop = asyncio.Event()
    loop = ConsumerLoop(
        engine=engine, consumer=consumer, dlq_producer=dlq, schema="grading", group_id=group, handle=handle
    )
    task = asyncio.create_task(loop.run(stop))
    try:

        async def five_behind() -> bool:
            return lag() == 5

        await eventually(five_behind, timeout=30, what="the stuck group's lag reported as 5")
        stuck = False

        async def caught_up() -> bool:
            return loop.applied_total == 5 and lag() == 0

        await eventually(caught_up, timeout=30, what="the group's lag back to 0 once it applied the five")
    finally:
        stop.set()
        await task
        await consumer.stop()
        await dlq.stop()
        await engine.dispose()
