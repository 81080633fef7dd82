"""Kafka clients with the exchange's settings, topic administration and ACLs.

Producer settings are chosen for "nothing lost, nothing reordered": idempotent producer, acks=all,
lz4 compression and a short linger so the outbox relay sends full batches.

Every client takes a `KafkaAuth`: none on the loopback development broker, SASL/SCRAM with the
process's own Kafka user on a secure one (SECURITY.md). The password is never part of a repr or a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code
from aiokafka.protocol.admin import CreateAclsRequest_v1, DescribeAclsRequest
from aiokafka.protocol.api import Request

if TYPE_CHECKING:
    from services.common.settings import CommonSettings

FOREVER = "-1"


@dataclass(frozen=True)
class KafkaAuth:
    """How a client authenticates. `repr=False` keeps the password out of logs and tracebacks."""

    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> KafkaAuth:
        if settings.kafka_security_protocol == "PLAINTEXT":
            return NO_AUTH
        return cls(
            security_protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            username=settings.kafka_username,
            password=settings.kafka_password.get_secret_value() if settings.kafka_password else None,
        )

    @property
    def who(self) -> str:
        """For messages to the operator: the user, never the password."""
        return f"Kafka user {self.username!r}" if self.username else "no Kafka user (PLAINTEXT)"

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments every aiokafka client (producer, consumer, admin) takes."""
        if self.security_protocol == "PLAINTEXT":
            return {}
        return {
            "security_protocol": self.security_protocol,
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
        }

    def env(self) -> dict[str, str]:
        """The same as `EXCHANGE_KAFKA_*` variables, for a child process (a service, the CLI)."""
        if self.security_protocol == "PLAINTEXT":
            return {"EXCHANGE_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}
        return {
            "EXCHANGE_KAFKA_SECURITY_PROTOCOL": self.security_protocol,
            "EXCHANGE_KAFKA_SASL_MECHANISM": self.sasl_mechanism,
            "EXCHANGE_KAFKA_USERNAME": self.username or "",
            "EXCHANGE_KAFKA_PASSWORD": self.password or "",
        }


NO_AUTH = KafkaAuth()


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 6
    replication: int = 1
    config: dict[str, str] = field(default_factory=dict)


def record_topic(name: str, *, partitions: int = 6, replication: int = 1) -> TopicSpec:
    """Record topics are the system of record: kept forever, never compacted (DOMAIN §10)."""
    return TopicSpec(
        name,
        partitions,
        replication,
        {"retention.ms": FOREVER, "retention.bytes": FOREVER, "cleanup.policy": "delete"},
    )


def outcome_topic(name: str, *, partitions: int = 6, replication: int = 1) -> TopicSpec:
    """Outcome topics can be rebuilt by replay; kept a year so subscribers can catch up after outages."""
    return TopicSpec(name, partitions, replication, {"retention.ms": str(365 * 24 * 3600 * 1000)})


def make_producer(bootstrap: str, *, client_id: str, linger_ms: int = 5, auth: KafkaAuth = NO_AUTH) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        **auth.client_options(),
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=linger_ms,
        max_batch_size=256 * 1024,
        compression_type="lz4",
        request_timeout_ms=10_000,
    )


def make_consumer(
    bootstrap: str, *, group_id: str, topics: Iterable[str], client_id: str, auth: KafkaAuth = NO_AUTH
) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        **auth.client_options(),
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=500,
        # How long the broker holds a fetch that finds nothing new (Kafka's default). It does not delay what
        # arrives: with fetch_min_bytes 1 the broker answers as soon as any assigned partition has a record,
        # and aiokafka sends a fetch only when nothing is buffered for the node, so it always covers every
        # partition. At 50 ms an idle consumer of its 36–48 partitions sent 20 fetches a second and
        # parsed as many empty answers: ~20 ms of CPU a second per consumer process, and about as much in Kafka.
        fetch_max_wait_ms=500,
    )


def make_admin(
    bootstrap: str, *, client_id: str = "exchange-admin", auth: KafkaAuth = NO_AUTH, request_timeout_ms: int = 40_000
) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id=client_id, request_timeout_ms=request_timeout_ms, **auth.client_options()
    )


async def ensure_topics(bootstrap: str, specs: Iterable[TopicSpec], *, auth: KafkaAuth = NO_AUTH) -> list[str]:
    """Create missing topics with their configuration; return the names created."""
    admin = make_admin(bootstrap, auth=auth)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [s for s in specs if s.name not in existing]
        if not wanted:
            return []
        # Another process may create one between our list and create; that is fine.
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(
                [NewTopic(s.name, s.partitions, s.replication, topic_configs=s.config) for s in wanted]
            )
        return [s.name for s in wanted]
    finally:
        await admin.close()


async def broker_reachable(bootstrap: str, *, auth: KafkaAuth = NO_AUTH) -> bool:
    return await broker_problem(bootstrap, auth=auth) is None


async def broker_problem(bootstrap: str, *, auth: KafkaAuth = NO_AUTH) -> str | None:
    """None when the brokers serve metadata to this user; otherwise one line for the operator."""
    admin = make_admin(bootstrap, client_id="exchange-probe", auth=auth, request_timeout_ms=3000)
    try:
        await admin.start()
        await admin.list_topics()
        return None
    except Exception as exc:
        # aiokafka reports a refused SASL login as a failed bootstrap; say which user tried.
        return f"Kafka at {bootstrap} is unreachable or refused {auth.who}: {type(exc).__name__}"
    finally:
        await admin.close()


# -- ACLs -------------------------------------------------------------------------------------------------
# aiokafka's admin client has no create_acls, and Kafka 4.1 ships AclCommand only in kafka-tools (not in the
# broker jars we fetch), so the CreateAcls request (API key 30, version 1) is sent directly.


class ResourceType(IntEnum):
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4


class PatternType(IntEnum):
    LITERAL = 3
    PREFIXED = 4


class AclOperation(IntEnum):
    READ = 3
    WRITE = 4
    CREATE = 5
    DESCRIBE = 8


_ALLOW = 3


@dataclass(frozen=True, order=True)
class AclBinding:
    """One allow rule: `principal` may `operation` on the resource (READ and WRITE imply DESCRIBE)."""

    principal: str  # "User:<name>"
    operation: AclOperation
    resource_type: ResourceType
    resource_name: str
    pattern: PatternType = PatternType.LITERAL
    host: str = "*"

    def describe(self) -> str:
        prefix = "*" if self.pattern is PatternType.PREFIXED else ""
        return f"{self.principal} {self.operation.name} {self.resource_type.name.lower()} {self.resource_name}{prefix}"


class _CreateAcls(Request[CreateAclsRequest_v1]):  # type: ignore[misc]  # aiokafka ships no type information
    """Several ACLs in one CreateAcls request (aiokafka's own wrapper sends one per request). The type
    parameter tells aiokafka which request versions this builder produces."""

    API_KEY = 30

    def __init__(self, bindings: list[AclBinding]) -> None:
        self._bindings = bindings

    def build(self, request_struct_class: type[Any]) -> Any:
        return request_struct_class(
            [
                (b.resource_type, b.resource_name, b.pattern, b.principal, b.host, b.operation, _ALLOW)
                for b in self._bindings
            ]
        )


class AclError(RuntimeError):
    """The brokers refused to create an ACL; the message names it and why."""


async def create_acls(bootstrap: str, bindings: Iterable[AclBinding], *, auth: KafkaAuth, timeout: float = 30.0) -> int:
    """Create `bindings` (as a super user) and wait until every broker enforces them. Creating an ACL that
    exists is a no-op, so this is idempotent; ACLs not in `bindings` are left alone.

    Returns how many bindings were sent."""
    wanted = sorted(set(bindings))
    if not wanted:
        return 0
    admin = make_admin(bootstrap, client_id="exchange-acls", auth=auth)
    await admin.start()
    try:
        response = await admin._send_request(_CreateAcls(wanted))
        failures = []
        for binding, (code, message) in zip(wanted, response.creation_responses, strict=True):
            if code != 0:
                failures.append(f"{binding.describe()}: {for_code(code).__name__} {message or ''}".strip())
        if failures:
            raise AclError(f"{len(failures)} ACL(s) refused by {bootstrap} for {auth.who}: " + "; ".join(failures[:5]))
        # The controller has committed them; each broker applies the metadata a moment later, and a client
        # that came before would be refused. Wait for it rather than hand out a race.
        deadline = time.monotonic() + timeout
        while not await _enforced_everywhere(admin, wanted):
            if time.monotonic() > deadline:
                raise AclError(
                    f"the ACLs were created but not every broker of {bootstrap} shows them after {timeout:.0f}s"
                )
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    return len(wanted)


async def _enforced_everywhere(admin: AIOKafkaAdminClient, wanted: list[AclBinding]) -> bool:
    any_ = 1  # the ANY value of the resource type, pattern type, operation and permission filters
    for broker in admin._client.cluster.brokers():
        response = await admin._send_request(
            DescribeAclsRequest(any_, None, any_, None, None, any_, any_), broker.nodeId
        )
        if response.error_code != 0:
            return False
        present = {
            AclBinding(principal, AclOperation(operation), ResourceType(rtype), name, PatternType(pattern), host)
            for rtype, name, pattern, acls in response.resources
            for principal, host, operation, permission in acls
            if permission == _ALLOW
            and operation in AclOperation._value2member_map_
            and rtype in ResourceType._value2member_map_
            and pattern in PatternType._value2member_map_
        }
        if not set(wanted) <= present:
            return False
    return True
