"""A private stack for one bench run: its own Kafka, PostgreSQL and services on free ports, in
`.run/bench/<pid>`, so a running `make up` or test run is never touched. Built with the same deploy
code as `make up` (`deploy.stack.Stack`); `close()` stops and deletes everything it started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

from deploy.local_postgres import SYSTEM_USER
from deploy.processes import free_port, pid_alive, read_pid, stop_pid_file
from deploy.stack import SERVICES, Stack, StackConfig

REPO = Path(__file__).resolve().parents[1]
BENCH_RUNS = REPO / ".run" / "bench"


def _psql() -> str:
    found = shutil.which("psql")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"), reverse=True)
    if not candidates:
        raise RuntimeError("psql not found (Debian's postgresql package provides it)")
    return str(candidates[0])


def _distinct_ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def clean_leftovers(keep: Path) -> None:
    """Stop what crashed earlier bench runs left behind (their pid is gone), then delete their folders."""
    if not BENCH_RUNS.exists():
        return
    for folder in BENCH_RUNS.glob("*"):
        if folder == keep or (folder.name.isdigit() and pid_alive(int(folder.name))):
            continue
        for pid_file in folder.rglob("*.pid"):
            stop_pid_file(pid_file, timeout=20)
        Stack(StackConfig(state_dir=folder, external_kafka=None, external_database=None)).postgres.destroy()
        shutil.rmtree(folder, ignore_errors=True)


class BenchStack:
    def __init__(self) -> None:
        self.state_dir = BENCH_RUNS / str(os.getpid())
        ports = _distinct_ports(3 + len(SERVICES))
        self.config = StackConfig(
            state_dir=self.state_dir,
            kafka_port=ports[0],
            controller_port=ports[1],
            pg_port=ports[2],
            service_ports=dict(zip(SERVICES, ports[3:], strict=True)),
            topic_prefix=f"b{uuid.uuid4().hex[:6]}.",
            external_kafka=None,  # never the servers of a sourced .run/stack.env
            external_database=None,
        )
        self.stack = Stack(self.config)
        self.tokens: dict[str, str] = {}
        self.running: set[str] = set()
        self.settings: dict[str, dict[str, str]] = {}
        """The settings each service was last started with (``start_services(..., env=)``)."""

    # -- life cycle --------------------------------------------------------------------------------

    def start_infra(self) -> None:
        clean_leftovers(keep=self.state_dir)
        self.stack.start_infra()
        # S2 reads when each inbox row was committed (202 -> visible) after the run instead of polling the
        # database it measures: the cluster keeps commit timestamps (a restart is needed to turn that on).
        if self.superuser_sql("SHOW track_commit_timestamp") != "on":
            self.superuser_sql("ALTER SYSTEM SET track_commit_timestamp = on")
            self.stack.postgres.stop()
            self.stack.postgres.start()
        self.tokens = self.stack.ensure_demo_tokens()

    def start_services(self, *services: str, env: dict[str, str] | None = None) -> None:
        for service in services:
            if service not in self.running:
                self.stack.start_service(service, env=env)
                self.running.add(service)
                self.settings[service] = dict(env or {})
        for service in services:
            self.stack.wait_ready(service, timeout=90)

    def stop_services(self, *services: str) -> None:
        for service in services or tuple(self.running):
            self.stack.stop_service(service)
            self.running.discard(service)

    def close(self, *, keep_files: bool = False) -> None:
        """Stop services, Kafka and PostgreSQL; delete the run's folder unless asked to keep it."""
        try:
            for service in SERVICES:
                self.stack.stop_service(service)
            self.stack.kafka.stop()
        finally:
            if keep_files:
                self.stack.postgres.stop()
            else:
                self.stack.postgres.destroy()
                shutil.rmtree(self.state_dir, ignore_errors=True)

    # -- what scenarios need -------------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        return self.stack.bootstrap

    @property
    def database_url(self) -> str:
        return self.stack.database_url

    @property
    def dsn(self) -> str:
        """The database URL in the form raw asyncpg accepts."""
        return self.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)

    def port(self, service: str) -> int:
        return self.config.service_ports[service]

    def service_pid(self, service: str) -> int:
        pid = read_pid(self.stack.service_pid_file(service))
        if pid is None:
            raise RuntimeError(f"{service} is not running")
        return pid

    def infra_pids(self) -> dict[str, list[int]]:
        groups: dict[str, list[int]] = {}
        postmaster = self.stack.postgres.data_dir / "postmaster.pid"
        if postmaster.exists():
            groups["postgres"] = [int(postmaster.read_text().split()[0])]
        kafka = read_pid(self.stack.kafka.pid_file)
        if kafka is not None:
            groups["kafka"] = [kafka]
        return groups

    def log_of(self, service: str) -> Path:
        return self.stack.service_log(service)

    def superuser_sql(self, sql: str, *, database: str = "postgres") -> str:
        """Run SQL as the cluster owner over the local socket (CREATE DATABASE needs it)."""
        data = self.stack.postgres.data_dir
        argv = [
            _psql(),
            *("-h", str(data), "-p", str(self.config.pg_port), "-U", SYSTEM_USER, "-d", database),
            *("-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql),
        ]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", SYSTEM_USER, "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {(result.stderr or result.stdout).strip()[-300:]}")
        return result.stdout.strip()

    def scratch_database(self, name: str) -> str:
        """A fresh database `name` on the same cluster, owned by the application role; returns its URL."""
        self.superuser_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.superuser_sql(f"CREATE DATABASE {name} OWNER exchange")
        base, _, _ = self.database_url.rpartition("/")
        return f"{base}/{name}"
