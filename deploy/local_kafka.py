"""A real single-node Apache Kafka 4.x (KRaft, combined broker + controller) for the local stack and tests.

The broker jars come from Maven Central through `deploy/kafka/pom.xml` and are cached outside the work
tree (`~/.cache/credit-exchange/kafka-<version>`), so a second clone or a second `make test` downloads
nothing. Runs on loopback only, with ~1 GiB heap.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
import uuid
from dataclasses import dataclass
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


@dataclass(frozen=True)
class KafkaNode:
    """One combined broker/controller. `state_dir` holds its config, data, log and pid file."""

    state_dir: Path
    port: int = 19092
    controller_port: int = 19093
    heap: str = "1g"
    node_id: int = 1

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

    def is_running(self) -> bool:
        pid = read_pid(self.pid_file)
        return pid is not None and pid_alive(pid)

    def server_properties(self) -> str:
        return "\n".join(
            [
                "process.roles=broker,controller",
                f"node.id={self.node_id}",
                f"controller.quorum.voters={self.node_id}@127.0.0.1:{self.controller_port}",
                f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
                f"log.dirs={self.data_dir}",
                "num.partitions=6",
                # Topics are created explicitly with their retention (record topics: kept forever).
                "auto.create.topics.enable=false",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "log.retention.hours=-1",
                "",
            ]
        )

    def start(self, *, timeout: float = 90.0) -> None:
        if self.is_running():
            wait_until(self._answers, timeout=timeout, what=f"Kafka on {self.bootstrap}", log_file=self.log_file)
            return
        require_free_port(self.port, "Kafka")
        require_free_port(self.controller_port, "the Kafka controller")
        jars = ensure_jars()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        props = self.state_dir / "server.properties"
        props.write_text(self.server_properties())
        classpath = f"{jars}/*"
        if not (self.data_dir / "meta.properties").exists():
            cluster_id = uuid.uuid4().hex[:22]
            fmt = subprocess.run(
                [
                    "java",
                    "-cp",
                    classpath,
                    f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
                    "kafka.tools.StorageTool",
                    "format",
                    # One argument: a base64url id may start with "-" and would read as an option.
                    f"--cluster-id={_kafka_cluster_id(cluster_id)}",
                    "-c",
                    str(props),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if fmt.returncode != 0:
                raise StackError("Kafka storage format failed: " + (fmt.stderr or fmt.stdout).strip()[-300:])
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
        wait_until(self._answers, timeout=timeout, what=f"Kafka on {self.bootstrap}", log_file=self.log_file)

    def stop(self, *, kill: bool = False) -> None:
        import signal

        stop_pid_file(self.pid_file, timeout=60.0, sig=signal.SIGKILL if kill else signal.SIGTERM)

    def _answers(self) -> bool:
        if not self.is_running():
            raise StackError(f"Kafka exited during start-up; see {self.log_file}: {_tail(self.log_file)}")
        return broker_answers(self.bootstrap)


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


def broker_answers(bootstrap: str) -> bool:
    """True when the broker serves metadata (a real protocol round trip, not just an open port)."""
    from services.common.kafka import broker_reachable

    return bool(run_coroutine_in_thread(broker_reachable(bootstrap)))
