"""A real PostgreSQL cluster in a project folder, run by an unprivileged user.

Debian's `postgresql` package provides the binaries (installed with apt-get when missing and we are
root). PostgreSQL refuses to run as root, so when we are root the cluster is owned and run by the
`postgres` system user the package creates. Clients connect over TCP on loopback with a password
generated at initialisation (scram-sha-256); the local socket is for the owner only.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from deploy.processes import StackError, require_free_port

SYSTEM_USER = "postgres"
DB_NAME = "exchange"
DB_USER = "exchange"


def _pg_bin_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    return candidates[0].parent if candidates else None


def ensure_installed() -> Path:
    """The folder with initdb/pg_ctl/psql, installing Debian's postgresql package when needed."""
    bin_dir = _pg_bin_dir()
    if bin_dir and (bin_dir / "initdb").exists():
        return bin_dir
    if os.geteuid() != 0:
        raise StackError("PostgreSQL is not installed: run `sudo apt-get install -y postgresql` (or set DATABASE_URL)")
    print("  installing Debian's postgresql package (once)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "postgresql"]):
        result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            raise StackError(f"`{' '.join(argv)}` failed: {(result.stderr or result.stdout).strip()[-300:]}")
    bin_dir = _pg_bin_dir()
    if not bin_dir or not (bin_dir / "initdb").exists():
        raise StackError("postgresql was installed but initdb was not found under /usr/lib/postgresql")
    return bin_dir


def _as_owner(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", SYSTEM_USER, "--", *argv]
    return argv


def _owner_can_reach(path: Path) -> bool:
    """Can the postgres user traverse to `path`? (Folders we create below it are world-traversable.)"""
    if os.geteuid() != 0:
        return True
    existing = next(p for p in (path, *path.parents) if p.exists())
    probe = subprocess.run(_as_owner(["test", "-x", str(existing)]), check=False)
    return probe.returncode == 0


@dataclass(frozen=True)
class PostgresCluster:
    state_dir: Path
    port: int = 55432

    def __post_init__(self) -> None:
        # PostgreSQL and Kafka resolve relative paths against their own working folders.
        object.__setattr__(self, "state_dir", self.state_dir.resolve())

    @property
    def data_dir(self) -> Path:
        preferred = self.state_dir / "pgdata"
        if preferred.exists() or _owner_can_reach(self.state_dir):
            return preferred
        # The project folder is not reachable by the postgres user (e.g. under /root): keep the
        # cluster in a system folder named after the project path instead.
        import hashlib

        digest = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:12]
        return Path("/var/lib/credit-exchange") / digest / "pgdata"

    @property
    def password_file(self) -> Path:
        # Beside the data folder, so the two always belong together (also in the /var/lib fallback).
        return self.data_dir.parent / "pg.password"

    @property
    def log_file(self) -> Path:
        # Inside the data folder: the only place the postgres user may write.
        return self.data_dir / "server.log"

    @property
    def url(self) -> str:
        password = self.password_file.read_text().strip()
        return f"postgresql+asyncpg://{DB_USER}:{password}@127.0.0.1:{self.port}/{DB_NAME}"

    def _run(self, argv: list[str], what: str) -> str:
        result = subprocess.run(_as_owner(argv), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(f"{what} failed: {(result.stderr or result.stdout).strip()[-400:]}")
        return result.stdout

    def is_running(self, bin_dir: Path | None = None) -> bool:
        bin_dir = bin_dir or _pg_bin_dir()
        if bin_dir is None or not (self.data_dir / "PG_VERSION").exists():
            return False
        result = subprocess.run(
            _as_owner([str(bin_dir / "pg_ctl"), "status", "-D", str(self.data_dir)]),
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    def start(self) -> None:
        bin_dir = ensure_installed()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = self.data_dir
        if not (data / "PG_VERSION").exists():
            self._init(bin_dir, data)
        if self.is_running(bin_dir):
            return
        require_free_port(self.port, "PostgreSQL")
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={data} "
            "-c max_connections=300 -c shared_buffers=256MB -c log_min_messages=warning"
        )
        self._run(
            [
                str(bin_dir / "pg_ctl"),
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(data),
                "-l",
                str(self.log_file),
                "-o",
                options,
            ],
            "starting PostgreSQL",
        )

    def _init(self, bin_dir: Path, data: Path) -> None:
        data.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            for folder in (
                data,
                *[p for p in data.parents if p.is_relative_to(Path("/var/lib/credit-exchange"))],
            ):
                shutil.chown(folder, SYSTEM_USER, SYSTEM_USER)
        data.chmod(0o700)
        self._run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                SYSTEM_USER,
                "--auth-local=peer",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            "initdb",
        )
        if os.geteuid() != 0:
            # Without root there is no peer mapping to a `postgres` user: trust the owner's socket.
            hba = data / "pg_hba.conf"
            hba.write_text(hba.read_text().replace("peer", "trust"))
        password = secrets.token_urlsafe(24)
        self.password_file.write_text(password + "\n")
        self.password_file.chmod(0o600)
        # Start once over the socket only, create the application role and database, stop.
        self._run(
            [
                str(bin_dir / "pg_ctl"),
                "start",
                "-w",
                "-D",
                str(data),
                "-l",
                str(data / "init.log"),
                "-o",
                f"-c listen_addresses='' -c unix_socket_directories={data} -c port={self.port}",
            ],
            "first start of PostgreSQL",
        )
        try:
            psql = [
                str(bin_dir / "psql"),
                "-h",
                str(data),
                "-p",
                str(self.port),
                "-U",
                SYSTEM_USER,
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-c",
            ]
            self._run([*psql, f"CREATE ROLE {DB_USER} LOGIN CREATEDB PASSWORD '{password}'"], "creating the role")
            self._run([*psql, f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}"], "creating the database")
        finally:
            self._run([str(bin_dir / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(data)], "stopping PostgreSQL")

    def stop(self, *, mode: str = "fast") -> None:
        bin_dir = _pg_bin_dir()
        if bin_dir is None or not self.is_running(bin_dir):
            return
        self._run(
            [str(bin_dir / "pg_ctl"), "stop", "-w", "-t", "60", "-m", mode, "-D", str(self.data_dir)],
            "stopping PostgreSQL",
        )

    def destroy(self) -> None:
        """Stop the cluster and delete its data and password (test stacks start from nothing)."""
        if (self.data_dir / "PG_VERSION").exists():
            self.stop(mode="immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.password_file.unlink(missing_ok=True)
