"""A local three-node Kafka cluster (KRaft, each node broker + controller), for replication and failover.

    python -m deploy.kafka_cluster up      start it (or find it running), print KAFKA_BOOTSTRAP
    python -m deploy.kafka_cluster down    stop it

Topics get replication factor 3 and `min.insync.replicas=2`: with `acks=all` (our producers) an
acknowledged event is on at least two brokers, and the cluster keeps serving with one node down. Point
the stack at it with `KAFKA_BOOTSTRAP=<the printed list> EXCHANGE_KAFKA_REPLICATION_FACTOR=3 make up`.
Each node runs with a 512 MiB heap; state lives in `.run/kafka-cluster/node<N>/`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from deploy.local_kafka import BrokerSecurity, KafkaNode, new_cluster_id, run_coroutine_in_thread
from deploy.processes import StackError, free_port
from services.common.kafka import KafkaAuth, make_admin

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STATE = REPO_ROOT / ".run" / "kafka-cluster"


@dataclass(frozen=True)
class KafkaCluster:
    """`size` combined nodes sharing one cluster id and one controller quorum."""

    state_dir: Path
    nodes: tuple[KafkaNode, ...]

    @classmethod
    def create(
        cls,
        state_dir: Path,
        *,
        size: int = 3,
        heap: str = "512m",
        security: BrokerSecurity | None = None,
    ) -> KafkaCluster:
        """The cluster in `state_dir`: its ports and cluster id are chosen once (free loopback ports) and
        kept in `cluster.json`, so a later `down`, a restart or a restarted node find the same nodes."""
        state_dir = state_dir.resolve()
        layout_file = state_dir / "cluster.json"
        if layout_file.exists():
            layout = json.loads(layout_file.read_text())
        else:
            layout = {
                "cluster_id": new_cluster_id(),
                "nodes": [[node_id, free_port(), free_port()] for node_id in range(1, size + 1)],
            }
            state_dir.mkdir(parents=True, exist_ok=True)
            layout_file.write_text(json.dumps(layout, indent=2) + "\n")
        voters = tuple((int(n), int(c)) for n, _, c in layout["nodes"])
        replication = min(3, len(voters))
        nodes = tuple(
            KafkaNode(
                state_dir / f"node{node_id}",
                port=int(port),
                controller_port=int(controller_port),
                heap=heap,
                node_id=int(node_id),
                security=security,
                voters=voters,
                replication=replication,
                cluster_id=str(layout["cluster_id"]),
            )
            for node_id, port, controller_port in layout["nodes"]
        )
        return cls(state_dir, nodes)

    @property
    def bootstrap(self) -> str:
        """Every node: a client that finds one down tries the next."""
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def admin_auth(self) -> KafkaAuth:
        return self.nodes[0].admin_auth

    def start(self, *, timeout: float = 120.0) -> None:
        """Launch every node, then wait until each serves metadata and all brokers are registered (topics
        with replication 3 cannot be created before)."""
        for node in self.nodes:
            node.launch()
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            node.wait_ready(timeout=max(1.0, deadline - time.monotonic()))
        self._wait_for_brokers(deadline)

    def _wait_for_brokers(self, deadline: float) -> None:
        async def registered() -> int:
            admin = make_admin(self.bootstrap, client_id="exchange-cluster-probe", auth=self.admin_auth)
            try:
                await admin.start()
                return len((await admin.describe_cluster())["brokers"])
            except Exception:
                return 0
            finally:
                await admin.close()

        count = 0
        while time.monotonic() < deadline:
            count = int(run_coroutine_in_thread(registered()))
            if count == len(self.nodes):
                return
            time.sleep(0.2)
        raise StackError(
            f"only {count} of {len(self.nodes)} Kafka brokers registered; see {self.state_dir}/node*/kafka.log"
        )

    def stop(self) -> None:
        """Stop every node at once: stopped one by one, the last node loses its quorum and its controlled
        shutdown waits for a controller that is gone (a minute, then SIGKILL)."""
        with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
            for done in [pool.submit(node.stop) for node in self.nodes]:
                done.result()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy.kafka_cluster")
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE)
    args = parser.parse_args(argv)
    cluster = KafkaCluster.create(args.state_dir)
    try:
        if args.command == "up":
            cluster.start()
            print(f"KAFKA_BOOTSTRAP={cluster.bootstrap}")
            print("EXCHANGE_KAFKA_REPLICATION_FACTOR=3")
        else:
            cluster.stop()
            print("stopped")
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
