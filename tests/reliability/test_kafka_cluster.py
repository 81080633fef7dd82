"""A three-node Kafka cluster (KRaft, combined nodes, replication 3, min.insync.replicas 2) of its own, with
the four services and a second instance of each consumer on it. The broker coordinating the grading group
(and leading about a third of the partitions) is SIGKILLed under a steady load; every record accepted,
before and after the kill, is in every consumer's state exactly once, and every process keeps serving on
the two brokers left."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.kafka_cluster import KafkaCluster
from deploy.processes import free_port
from deploy.stack import SERVICES, Stack, StackConfig
from services.common.db import create_engine
from services.common.kafka import make_admin
from services.topics import CONSUMERS
from tests.reliability.isolated import scratch_database
from tests.reliability.load import SteadyLoad
from tests.reliability.test_faults import assert_exactly_once_everywhere


@pytest.fixture(scope="module")
def cluster(stack: Stack) -> Iterator[KafkaCluster]:
    kafka = KafkaCluster.create(stack.config.state_dir / "kafka-cluster", size=3, heap="512m")
    try:
        kafka.start()
        yield kafka
    finally:
        kafka.stop()


@pytest.fixture(scope="module")
def second_ports() -> dict[str, int]:
    return {service: free_port() for service in CONSUMERS}


@pytest.fixture(scope="module")
def on_cluster(stack: Stack, cluster: KafkaCluster, second_ports: dict[str, int]) -> Iterator[Stack]:
    """The four services on the cluster plus a second instance of each consumer (same group), on a
    database of their own in the session PostgreSQL."""
    with scratch_database(stack.database_url, "cluster") as database_url:
        config = StackConfig(
            state_dir=stack.config.state_dir / "on-cluster",
            service_ports={svc: free_port() for svc in SERVICES},
            topic_prefix=f"c{uuid.uuid4().hex[:6]}.",
            external_kafka=cluster.bootstrap,
            external_database=database_url,
            kafka_secure=False,
            kafka_replication=3,
        )
        services = Stack(config)
        try:
            services.start_infra()
            services.ensure_demo_tokens()
            # All seven processes at once: one start-up and one rebalance per group instead of two.
            for service in SERVICES:
                services.start_service(service)
            for service, port in second_ports.items():
                services.start_service(service, instance=2, port=port)
            for service in SERVICES:
                services.wait_ready(service)
            for service, port in second_ports.items():
                services.wait_ready(service, instance=2, port=port)
            yield services
        finally:
            for service in CONSUMERS:
                services.stop_service(service, instance=2)
            services.stop_services()
            services.stop_infra()


@pytest.fixture
async def engine(on_cluster: Stack) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(on_cluster.database_url, pool_size=2)
    yield engine
    await engine.dispose()


async def _coordinator_and_replicas(cluster: KafkaCluster, group: str, topic: str) -> tuple[int, set[int]]:
    admin = make_admin(cluster.bootstrap, client_id="test-cluster")
    try:
        await admin.start()
        coordinator = int(await admin.find_coordinator(group))
        (description,) = await admin.describe_topics([topic])
        return coordinator, {len(p["replicas"]) for p in description["partitions"]}
    finally:
        await admin.close()


async def _all_ready(urls: list[str]) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for url in urls:
            response = await client.get(url + "/readyz")
            assert response.status_code == 200, f"{url}: {response.text}"


async def test_a_broker_killed_under_load_loses_and_doubles_nothing(
    cluster: KafkaCluster, on_cluster: Stack, second_ports: dict[str, int], engine: AsyncEngine
) -> None:
    prefix = on_cluster.config.topic_prefix
    coordinator, replicas = await _coordinator_and_replicas(cluster, prefix + "grading", prefix + "records.acts")
    assert replicas == {3}, "record topics are created with replication factor 3"
    victim = next(node for node in cluster.nodes if node.node_id == coordinator)
    tokens = on_cluster.ensure_demo_tokens()
    load = SteadyLoad(
        on_cluster.service_url("ingest"), tokens["TOKEN_AMR"], id_prefix=f"AMR-CL-{uuid.uuid4().hex[:6]}-"
    )
    async with load:
        await load.wait_for(40)
        victim.stop(kill=True)  # SIGKILL: no controlled shutdown, the others must notice and take over
        before_kill = len(load.result.accepted)
        await load.wait_for(before_kill + 80, timeout=120)
    after_kill = len(load.result.accepted) - before_kill
    print(
        f"\n  killed node {victim.node_id} (grading's coordinator): {before_kill} accepted before, {after_kill} after"
    )
    await assert_exactly_once_everywhere(engine, load)
    # Every process, both instances of each consumer included, still serves on the two brokers left.
    urls = [on_cluster.service_url(s) for s in SERVICES] + [f"http://127.0.0.1:{p}" for p in second_ports.values()]
    await _all_ready(urls)
