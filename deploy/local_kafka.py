"""A real single-node Apache Kafka 4.x (KRaft, combined broker + controller) for the local stack and tests.

The broker jars come from Maven Central through `deploy/kafka/pom.xml` and are cached outside the work
tree (`~/.cache/credit-exchange/kafka-<version>`), so a second clone or a second `make test` downloads
nothing. Runs on loopback only, with ~1 GiB heap.

`BrokerSecurity` makes it a secure broker (SASL/SCRAM-SHA-512, StandardAuthorizer, deny by default);
`deploy/kafka_cluster.py` runs three of these nodes as one cluster.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy.processes import (
    StackError,
    pid_alive,
    read_pid,
    require_free_port,
    spawn,
    stop_pid_file,
    wait_until,
)
from services.common.kafka import NO_AUTH, KafkaAuth

KAFKA_VERSION = os.environ.get("EXCHANGE_KAFKA_VERSION", "4.1.1")
DEPLOY_DIR = Path(__file__).resolve().parent
POM = DEPLOY_DIR / "kafka" / "pom.xml"
LOG4J_CONFIG = DEPLOY_DIR / "kafka" / "log4j2.yaml"


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "credit-exchange"


def ensure_jars(version: str = KAFKA_VERSION) -> Path:
    """Fetch the broker jars once with Maven; later calls return the cached folder at once."""
    target = cache_root() / f"kafka-{version}"
    marker = target / ".complete"
    if marker.exists():
        return target
    if shutil.which("mvn") is None:
        raise StackError("Maven (`mvn`) is needed to fetch the Kafka jars: apt-get install maven")
    if shutil.which("java") is None:
        raise StackError("Java 17+ is needed to run Kafka: apt-get install openjdk-17-jre-headless")
    print(f"  fetching Apache Kafka {version} jars from Maven Central into {target} (once)", flush=True)
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    result = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-Dkafka.version={version}",
            f"-DoutputDirectory={tmp}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
        raise StackError(f"mvn could not fetch Kafka {version}: " + " | ".join(tail))
    if not any(tmp.glob(f"kafka_2.13-{version}.jar")):
        raise StackError(f"mvn finished but kafka_2.13-{version}.jar is missing in {tmp}")
    (tmp / ".complete").write_text(version)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


SCRAM_MECHANISM = "SCRAM-SHA-512"
SUPER_USER = "admin"
# The controller listener authenticates with SASL PLAIN against a static user in the broker's own config:
# KRaft controllers cannot check SCRAM (its credentials live in the metadata log they serve).
CONTROLLER_USER = "kraft"


@dataclass(frozen=True)
class BrokerSecurity:
    """The users of a secure broker (SASL/SCRAM-SHA-512 on the client listener, ACLs, deny by default).

    Passwords are generated once and kept in a mode-600 JSON file beside the broker's data; they are
    given to the broker at format time (`--add-scram`) and to each process in its environment."""

    file: Path
    passwords: dict[str, str] = field(repr=False, compare=False, hash=False)

    @classmethod
    def load_or_create(cls, file: Path, users: Iterable[str]) -> BrokerSecurity:
        """Read the password file, adding a random password for each user it does not have yet."""
        file = file.resolve()
        passwords: dict[str, str] = {}
        if file.exists():
            try:
                passwords = {str(k): str(v) for k, v in json.loads(file.read_text()).items()}
            except (ValueError, AttributeError):
                raise StackError(
                    f"{file} is not a JSON object of Kafka user passwords: delete it and the broker data"
                ) from None
        wanted = {SUPER_USER, CONTROLLER_USER, *users}
        missing = sorted(wanted - set(passwords))
        for user in missing:
            # URL-safe characters only: the password goes into JAAS strings and StorageTool arguments unquoted.
            passwords[user] = secrets.token_urlsafe(24)
        if missing or not file.exists():
            file.parent.mkdir(parents=True, exist_ok=True)
            file.touch(mode=0o600)
            file.chmod(0o600)
            file.write_text(json.dumps(passwords, indent=2, sort_keys=True) + "\n")
        return cls(file, passwords)

    @property
    def scram_users(self) -> list[str]:
        return sorted(u for u in self.passwords if u != CONTROLLER_USER)

    def auth(self, user: str) -> KafkaAuth:
        """How `user` logs in to the client listener."""
        if user not in self.passwords or user == CONTROLLER_USER:
            raise StackError(f"Kafka user {user!r} is not one of the broker's users ({', '.join(self.scram_users)})")
        return KafkaAuth(
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism=SCRAM_MECHANISM,
            username=user,
            password=self.passwords[user],
        )

    @property
    def admin(self) -> KafkaAuth:
        return self.auth(SUPER_USER)


@dataclass(frozen=True)
class KafkaNode:
    """One combined broker/controller. `state_dir` holds its config, data, log and pid file.

    Alone by default; `voters` (node id, controller port of every node) and a shared `cluster_id` make it
    one node of a cluster (`deploy/kafka_cluster.py`). `security` switches the client listener to
    SASL_PLAINTEXT with SCRAM users and the StandardAuthorizer."""

    state_dir: Path
    port: int = 19092
    controller_port: int = 19093
    heap: str = "1g"
    node_id: int = 1
    security: BrokerSecurity | None = None
    voters: tuple[tuple[int, int], ...] = ()
    replication: int = 1
    cluster_id: str | None = None

    def __post_init__(self) -> None:
        # PostgreSQL and Kafka resolve relative paths against their own working folders.
        object.__setattr__(self, "state_dir", self.state_dir.resolve())

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "kafka.log"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def admin_auth(self) -> KafkaAuth:
        """The super user on a secure broker; no authentication on a plain one."""
        return self.security.admin if self.security else NO_AUTH

    @property
    def mode(self) -> str:
        return f"sasl-{SCRAM_MECHANISM.lower()}" if self.security else "plaintext"

    @property
    def _mode_file(self) -> Path:
        # Written at format time: SCRAM users exist only if the data was formatted with them.
        return self.state_dir / "listener-mode"

    def is_running(self) -> bool:
        pid = read_pid(self.pid_file)
        return pid is not None and pid_alive(pid)

    def server_properties(self) -> str:
        voters = self.voters or ((self.node_id, self.controller_port),)
        min_isr = min(2, self.replication)
        lines = [
            "process.roles=broker,controller",
            f"node.id={self.node_id}",
            "controller.quorum.voters=" + ",".join(f"{n}@127.0.0.1:{p}" for n, p in voters),
            "controller.listener.names=CONTROLLER",
            f"log.dirs={self.data_dir}",
            "num.partitions=6",
            # Topics are created explicitly with their retention (record topics: kept forever).
            "auto.create.topics.enable=false",
            f"default.replication.factor={self.replication}",
            f"min.insync.replicas={min_isr}",
            f"offsets.topic.replication.factor={self.replication}",
            f"transaction.state.log.replication.factor={self.replication}",
            f"transaction.state.log.min.isr={min_isr}",
            f"share.coordinator.state.topic.replication.factor={self.replication}",
            f"share.coordinator.state.topic.min.isr={min_isr}",
            "group.initial.rebalance.delay.ms=0",
            "log.retention.hours=-1",
        ]
        if self.security is None:
            lines += [
                f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
            ]
        else:
            lines += self._security_properties(self.security)
        return "\n".join([*lines, ""])

    def _security_properties(self, security: BrokerSecurity) -> list[str]:
        admin_password = security.passwords[SUPER_USER]
        kraft_password = security.passwords[CONTROLLER_USER]
        scram = SCRAM_MECHANISM.lower()
        return [
            f"listeners=SASL_PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=SASL_PLAINTEXT://127.0.0.1:{self.port}",
            "listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
            # Clients and replication between brokers: SCRAM, users and credentials in the metadata log.
            "inter.broker.listener.name=SASL_PLAINTEXT",
            f"sasl.mechanism.inter.broker.protocol={SCRAM_MECHANISM}",
            f"listener.name.sasl_plaintext.sasl.enabled.mechanisms={SCRAM_MECHANISM}",
            f"listener.name.sasl_plaintext.{scram}.sasl.jaas.config="
            f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{SUPER_USER}" '
            f'password="{admin_password}";',
            # Brokers to controllers: PLAIN against a static user (see CONTROLLER_USER), loopback only.
            "sasl.mechanism.controller.protocol=PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
            "listener.name.controller.plain.sasl.jaas.config="
            f'org.apache.kafka.common.security.plain.PlainLoginModule required username="{CONTROLLER_USER}" '
            f'password="{kraft_password}" user_{CONTROLLER_USER}="{kraft_password}";',
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found=false",
            f"super.users=User:{SUPER_USER};User:{CONTROLLER_USER}",
        ]

    def start(self, *, timeout: float = 90.0) -> None:
        """Start the node (formatting its storage the first time) and wait until it serves metadata."""
        if not self.is_running():
            self.launch()
        self.wait_ready(timeout=timeout)

    def launch(self) -> None:
        """Format the storage if needed and spawn the JVM, without waiting (a cluster's nodes must all be
        launched before any of them can answer: the controllers need a quorum)."""
        if self.is_running():
            return
        require_free_port(self.port, "Kafka")
        require_free_port(self.controller_port, "the Kafka controller")
        jars = ensure_jars()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        props = self.state_dir / "server.properties"
        props.touch(mode=0o600)
        props.chmod(0o600)  # holds the inter-broker and controller passwords when secure
        props.write_text(self.server_properties())
        classpath = f"{jars}/*"
        if (self.data_dir / "meta.properties").exists():
            formatted = self._mode_file.read_text().strip() if self._mode_file.exists() else "plaintext"
            if formatted != self.mode:
                raise StackError(
                    f"the Kafka data in {self.data_dir} was formatted {formatted}, not {self.mode}: SCRAM users "
                    f"exist only from format time. Stop the stack and delete {self.state_dir} (its topics are "
                    "lost), or start it the way it was formatted (EXCHANGE_KAFKA_SECURE)"
                )
        else:
            self._format(classpath, props)
        spawn(
            [
                "java",
                f"-Xms{self.heap}",
                f"-Xmx{self.heap}",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
                "-cp",
                classpath,
                "kafka.Kafka",
                str(props),
            ],
            pid_file=self.pid_file,
            log_file=self.log_file,
        )

    def _format(self, classpath: str, props: Path) -> None:
        cluster_id = self.cluster_id or new_cluster_id()
        scram: list[str] = []
        if self.security is not None:
            # The passwords are on this short-lived command line: loopback development use only.
            for user in self.security.scram_users:
                scram += ["--add-scram", f"{SCRAM_MECHANISM}=[name={user},password={self.security.passwords[user]}]"]
        fmt = subprocess.run(
            [
                "java",
                "-cp",
                classpath,
                f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
                "kafka.tools.StorageTool",
                "format",
                # One argument: a base64url id may start with "-" and would read as an option.
                f"--cluster-id={cluster_id}",
                "-c",
                str(props),
                *scram,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if fmt.returncode != 0:
            output = (fmt.stderr or fmt.stdout).strip()
            if self.security is not None:
                for password in self.security.passwords.values():
                    output = output.replace(password, "***")
            raise StackError("Kafka storage format failed: " + output[-300:])
        self._mode_file.write_text(self.mode + "\n")

    def wait_ready(self, *, timeout: float = 90.0) -> None:
        wait_until(self._answers, timeout=timeout, what=f"Kafka on {self.bootstrap}", log_file=self.log_file)

    def stop(self, *, kill: bool = False) -> None:
        import signal

        stop_pid_file(self.pid_file, timeout=60.0, sig=signal.SIGKILL if kill else signal.SIGTERM)

    def _answers(self) -> bool:
        if not self.is_running():
            raise StackError(f"Kafka exited during start-up; see {self.log_file}: {_tail(self.log_file)}")
        return broker_answers(self.bootstrap, self.admin_auth)


def new_cluster_id() -> str:
    return _kafka_cluster_id(uuid.uuid4().hex[:22])


def _kafka_cluster_id(seed: str) -> str:
    # Kafka wants a base64url-encoded 16-byte UUID (what `kafka-storage random-uuid` prints).
    import base64

    return base64.urlsafe_b64encode(uuid.UUID(hex=seed.ljust(32, "0")[:32]).bytes).decode().rstrip("=")


def _tail(path: Path) -> str:
    if not path.exists():
        return "(no log)"
    lines = path.read_text(errors="replace").strip().splitlines()[-3:]
    return " / ".join(line[:200] for line in lines)


def run_coroutine_in_thread(coro: Any) -> Any:
    """Run a coroutine to completion on a private loop, even if the caller already runs one."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def broker_answers(bootstrap: str, auth: KafkaAuth = NO_AUTH) -> bool:
    """True when the broker serves metadata (a real protocol round trip, not just an open port)."""
    from services.common.kafka import broker_reachable

    return bool(run_coroutine_in_thread(broker_reachable(bootstrap, auth=auth)))
