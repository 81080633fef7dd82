"""The local stack: Kafka, PostgreSQL, migrations, topics, keys, demo credentials and the four services.

    python -m deploy.stack up      start everything in the background, write .run/stack.env
    python -m deploy.stack run     the same in the foreground; Ctrl-C stops everything
    python -m deploy.stack down    stop everything `up` started
    python -m deploy.stack infra   only Kafka + PostgreSQL + migrations + topics (what tests build on)

`KAFKA_BOOTSTRAP` / `DATABASE_URL` in the environment point at existing servers instead of local ones.
`EXCHANGE_KAFKA_SECURE=1` runs the local broker with SASL/SCRAM users and per-service ACLs (SECURITY.md).
Each step prints what it does; a failing step ends with one line saying which step and why.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local_kafka import SUPER_USER, BrokerSecurity, KafkaNode, broker_answers, run_coroutine_in_thread
from deploy.local_postgres import PostgresCluster
from deploy.processes import StackError, require_free_port, spawn, stop_pid_file, wait_until
from services.common.kafka import KafkaAuth
from services.common.settings import CommonSettings
from services.topics import KAFKA_USERS

REPO_ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("ingest", "grading", "sanctions", "publish", "supervision", "reports", "bridge")
WORKBENCH = "workbench"
"""The department workbench (issue 17): no Kafka, no consumer; it speaks to the four services over HTTP
with the workbench credential. `up` starts it after them; the test stacks start it only when asked."""
DEMO_DEPARTMENTS = {
    "AMR": "市场监管局",
    "TAX": "税务局",
    "COURT": "法院",
    "HOUSING": "住建局",
    "DRC": "发改局",
}


@dataclass
class StackConfig:
    state_dir: Path = REPO_ROOT / ".run"
    kafka_port: int = 19092
    controller_port: int = 19093
    pg_port: int = 55432
    service_ports: dict[str, int] = field(
        default_factory=lambda: {
            "ingest": 8001,
            "grading": 8002,
            "sanctions": 8003,
            "publish": 8004,
            "supervision": 8005,
            "reports": 8006,
            WORKBENCH: 8007,
            "bridge": 8008,
        }
    )
    topic_prefix: str = "exchange."
    external_kafka: str | None = field(default_factory=lambda: os.environ.get("KAFKA_BOOTSTRAP"))
    external_database: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL"))
    # The local broker with SASL/SCRAM users, the StandardAuthorizer and per-service ACLs (SECURITY.md).
    kafka_secure: bool = field(default_factory=lambda: os.environ.get("EXCHANGE_KAFKA_SECURE", "") in ("1", "true"))
    # More SCRAM users on the secure broker, without any ACL (tests show what such a user cannot do).
    kafka_extra_users: tuple[str, ...] = ()
    # Replication factor of the topics it creates; None: EXCHANGE_KAFKA_REPLICATION_FACTOR or 1.
    kafka_replication: int | None = None


@contextmanager
def step(what: str) -> Iterator[None]:
    print(f"==> {what}", flush=True)
    started = time.monotonic()
    try:
        yield
    except StackError as exc:
        raise StackError(f"step '{what}' failed: {exc}") from None
    elapsed = time.monotonic() - started
    if elapsed > 1:
        print(f"    ({elapsed:.1f}s)", flush=True)


class Stack:
    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        c = self.config
        security = None
        if c.kafka_secure and not c.external_kafka:
            users = [*KAFKA_USERS, *c.kafka_extra_users]
            security = BrokerSecurity.load_or_create(c.state_dir / "kafka" / "sasl-users.json", users)
        self.kafka = KafkaNode(
            c.state_dir / "kafka", port=c.kafka_port, controller_port=c.controller_port, security=security
        )
        self.postgres = PostgresCluster(c.state_dir, port=c.pg_port)

    # -- infrastructure ---------------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        return self.config.external_kafka or self.kafka.bootstrap

    @property
    def database_url(self) -> str:
        return self.config.external_database or self.postgres.url

    def kafka_auth(self, user: str = SUPER_USER) -> KafkaAuth:
        """How `user` logs in to the local secure broker; otherwise what EXCHANGE_KAFKA_* say (no
        authentication unless set), the same for every process."""
        if self.kafka.security is not None:
            return self.kafka.security.auth(user)
        return KafkaAuth.from_settings(self._settings())

    def env(self) -> dict[str, str]:
        """Environment for services and the CLI (on a secure broker the CLI is the super user; each
        service gets its own user in `start_service`)."""
        return {
            "DATABASE_URL": self.database_url,
            "KAFKA_BOOTSTRAP": self.bootstrap,
            "EXCHANGE_TOPIC_PREFIX": self.config.topic_prefix,
            **self.kafka_auth().env(),
            "INGEST_SIGNING_KEY_FILE": str(self.signing_key_file),
            # Reports carry their own key (rotated apart from receipts); the URLs printed on a report and
            # the links between the portal (publish) and the verification page (reports).
            "REPORTS_SIGNING_KEY_FILE": str(self.config.state_dir / "keys" / "report-ed25519.pem"),
            "REPORTS_PUBLIC_URL": self.service_url("reports"),
            "REPORTS_PORTAL_URL": self.service_url("publish") + "/",
            "PUBLISH_REPORTS_URL": self.service_url("reports"),
            **{f"{svc.upper()}_PORT": str(port) for svc, port in self.config.service_ports.items()},
        }

    @property
    def signing_key_file(self) -> Path:
        return self.config.state_dir / "keys" / "receipt-ed25519.pem"

    def start_infra(self) -> None:
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        with step("Kafka"):
            if self.config.external_kafka:
                if not broker_answers(self.config.external_kafka, self.kafka_auth()):
                    raise StackError(f"KAFKA_BOOTSTRAP={self.config.external_kafka} does not answer")
            else:
                self.kafka.start()
            print(f"    Kafka {self.bootstrap}", flush=True)
        with step("PostgreSQL"):
            if not self.config.external_database:
                self.postgres.start()
            self._check_database()
        with step("database migrations"):
            self._migrate()
        with step("Kafka topics"):
            self._ensure_topics()
        if self.kafka.security is not None:
            with step("Kafka ACLs (one user per service, deny by default)"):
                self._ensure_acls()
        with step("receipt signing key"):
            if not self.signing_key_file.exists():
                from services.ingest.receipts import generate_key_file

                generate_key_file(self.signing_key_file)
                print(f"    generated a development key at {self.signing_key_file}", flush=True)

    def _settings(self) -> CommonSettings:
        settings = CommonSettings(
            DATABASE_URL=self.database_url,
            KAFKA_BOOTSTRAP=self.bootstrap,
            topic_prefix=self.config.topic_prefix,
        )
        if self.config.kafka_replication is not None:
            settings = settings.model_copy(update={"kafka_replication_factor": self.config.kafka_replication})
        return settings

    def _check_database(self) -> None:
        from services.common.db import DatabaseUnavailable, check_database, create_engine

        async def probe() -> None:
            engine = create_engine(self.database_url, pool_size=1)
            try:
                await check_database(engine)
            finally:
                await engine.dispose()

        try:
            run_coroutine_in_thread(probe())
        except DatabaseUnavailable as exc:
            raise StackError(str(exc)) from None

    def _migrate(self) -> None:
        import threading

        from services.common.migrations import upgrade_all

        errors: list[BaseException] = []

        def target() -> None:
            try:
                upgrade_all(self.database_url)
            except BaseException as exc:
                errors.append(exc)

        # Alembic's env runs its own event loop; keep it off any loop the caller may be running.
        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
        if errors:
            raise StackError(f"{type(errors[0]).__name__}: {str(errors[0]).splitlines()[0][:300]}")

    def _ensure_topics(self) -> None:
        from services.common.kafka import ensure_topics
        from services.topics import topic_specs

        specs = topic_specs(self._settings())
        created = run_coroutine_in_thread(ensure_topics(self.bootstrap, specs, auth=self.kafka_auth()))
        if created:
            print(f"    created {len(created)} topics", flush=True)

    def _ensure_acls(self) -> None:
        from services.common.kafka import AclError, create_acls
        from services.topics import kafka_acls

        try:
            acls = kafka_acls(self._settings())
            count = run_coroutine_in_thread(create_acls(self.bootstrap, acls, auth=self.kafka_auth()))
        except (AclError, ValueError) as exc:
            raise StackError(str(exc)) from None
        print(f"    {count} ACLs for {', '.join(KAFKA_USERS)}", flush=True)

    def stop_infra(self) -> None:
        if not self.config.external_kafka:
            self.kafka.stop()
        if not self.config.external_database:
            self.postgres.stop()

    # -- credentials --------------------------------------------------------------------------------

    @property
    def tokens_file(self) -> Path:
        return self.config.state_dir / "tokens.env"

    def ensure_demo_tokens(self) -> dict[str, str]:
        """Demo department, county and auditor tokens; reused while they still authenticate."""
        from services.common.auth import Authenticator, Role, issue, register_department
        from services.common.db import create_engine

        known = _read_env(self.tokens_file)

        async def ensure() -> dict[str, str]:
            engine = create_engine(self.database_url, pool_size=1)
            try:
                authenticator = Authenticator(engine, cache_seconds=0)
                tokens: dict[str, str] = {}
                wanted: list[tuple[str, Role, str | None, str]] = [
                    (f"TOKEN_{code}", Role.DEPARTMENT, code, name) for code, name in DEMO_DEPARTMENTS.items()
                ]
                # The national-list channel (issue 20): the bridge imports national lists under these.
                wanted += [
                    (f"TOKEN_NATIONAL_{code}", Role.DEPARTMENT, code, f"national:{code}")
                    for code in ("COURT", "TAX", "AMR", "DRC")
                ]
                wanted += [
                    ("TOKEN_COUNTY", Role.COUNTY, None, "县信用平台"),
                    ("TOKEN_AUDITOR", Role.AUDITOR, None, "审计"),
                    ("TOKEN_WORKBENCH", Role.WORKBENCH, None, "部门工作台"),
                ]
                for key, role, dept, name in wanted:
                    current = known.get(key)
                    if current and await authenticator.authenticate(current):
                        tokens[key] = current
                        continue
                    if dept:
                        await register_department(engine, dept, name)
                    tokens[key] = (await issue(engine, role=role, name=name, department=dept)).token
                return tokens
            finally:
                await engine.dispose()

        tokens: dict[str, str] = run_coroutine_in_thread(ensure())
        _write_env(self.tokens_file, tokens, mode=0o600)
        return tokens

    # -- services -----------------------------------------------------------------------------------

    def service_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.config.service_ports[service]}"

    def service_pid_file(self, service: str, instance: int = 1) -> Path:
        return self.config.state_dir / "pids" / f"{service}{'' if instance == 1 else instance}.pid"

    def service_log(self, service: str, instance: int = 1) -> Path:
        return self.config.state_dir / "logs" / f"{service}{'' if instance == 1 else instance}.log"

    def start_service(
        self, service: str, *, instance: int = 1, port: int | None = None, env: dict[str, str] | None = None
    ) -> None:
        """Start one process of `service`; further instances (another port) join the same consumer group.
        `env` adds settings for this process only (e.g. `INGEST_WORKERS`: ingest runs that many worker
        processes, by default one per usable core less one, 1 to 4)."""
        port = port or self.config.service_ports[service]
        require_free_port(port, service)
        env = {
            **os.environ,
            **self.env(),
            **(self.workbench_env() if service == WORKBENCH else self.kafka_auth(service).env()),
            **(self.bridge_env() if service == "bridge" else {}),
            f"{service.upper()}_PORT": str(port),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        spawn(
            [sys.executable, "-m", f"services.{service}"],
            pid_file=self.service_pid_file(service, instance),
            log_file=self.service_log(service, instance),
            env=env,
            cwd=REPO_ROOT,
        )

    def wait_ready(self, service: str, timeout: float = 60.0, *, instance: int = 1, port: int | None = None) -> None:
        """Wait for `/readyz` of one process (a further instance: its number and port)."""
        url = (f"http://127.0.0.1:{port}" if port else self.service_url(service)) + "/readyz"
        pid_file = self.service_pid_file(service, instance)
        log = self.service_log(service, instance)

        def ready() -> bool:
            from deploy.processes import pid_alive, read_pid

            pid = read_pid(pid_file)
            if pid is None or not pid_alive(pid):
                raise StackError(f"{service} exited during start-up; see {log}: " + _last_line(log))
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback URL we built)
                    return bool(response.status == 200)
            except OSError:
                return False

        wait_until(ready, timeout=timeout, what=f"{service} /readyz", log_file=log)

    def stop_service(self, service: str, *, kill: bool = False, instance: int = 1) -> None:
        stop_pid_file(
            self.service_pid_file(service, instance), timeout=20, sig=signal.SIGKILL if kill else signal.SIGTERM
        )

    def workbench_env(self) -> dict[str, str]:
        """The workbench's credential and the services' URLs (it has no Kafka user)."""
        token = self.ensure_demo_tokens()["TOKEN_WORKBENCH"]
        urls = {f"WORKBENCH_{svc.upper()}_URL": self.service_url(svc) for svc in SERVICES}
        return {"WORKBENCH_TOKEN": token, **urls}

    def bridge_env(self) -> dict[str, str]:
        """Where the bridge files what comes down (national lists through ingest, 信用中国 repairs through
        publish) and the credentials it does it with."""
        tokens = self.ensure_demo_tokens()
        national = {code: tokens[f"TOKEN_NATIONAL_{code}"] for code in ("COURT", "TAX", "AMR", "DRC")}
        return {
            "BRIDGE_INGEST_URL": self.service_url("ingest"),
            "BRIDGE_PUBLISH_URL": self.service_url("publish"),
            "BRIDGE_PUBLISH_TOKEN": tokens["TOKEN_COUNTY"],
            "BRIDGE_NATIONAL_TOKENS": json.dumps(national),
            "BRIDGE_SECRETS_KEY_FILE": str(self.webhook_secrets_key_file()),
        }

    def webhook_secrets_key_file(self) -> Path:
        """The key that seals webhook secrets at rest, generated once (mode 600) beside the signing keys."""
        path = self.config.state_dir / "keys" / "webhook-secrets.key"
        if not path.exists():
            from cryptography.fernet import Fernet

            path.parent.mkdir(parents=True, exist_ok=True)
            _write_private(path, Fernet.generate_key() + b"\n")
        return path

    def start_services(self) -> None:
        for service in SERVICES:
            with step(f"{service} service on {self.service_url(service)}"):
                self.start_service(service)
        with step("services ready"):
            for service in SERVICES:
                self.wait_ready(service)

    def stop_services(self) -> None:
        for service in (WORKBENCH, *SERVICES):
            self.stop_service(service)

    # -- whole stack ----------------------------------------------------------------------------------

    def up(self) -> dict[str, str]:
        self.start_infra()
        with step("demo departments and tokens"):
            tokens = self.ensure_demo_tokens()
        self.start_services()
        with step(f"workbench on {self.service_url(WORKBENCH)}"):
            self.start_service(WORKBENCH)
            self.wait_ready(WORKBENCH)
        values = {
            **{f"{svc.upper()}_URL": self.service_url(svc) for svc in (*SERVICES, WORKBENCH)},
            "KAFKA_BOOTSTRAP": self.bootstrap,
            "DATABASE_URL": self.database_url,
            "EXCHANGE_TOPIC_PREFIX": self.config.topic_prefix,
            # The super user's Kafka login on a secure broker, for the CLI (file mode 600).
            **self.kafka_auth().env(),
            **tokens,
        }
        _write_env(self.config.state_dir / "stack.env", values, mode=0o600)
        return values

    def down(self) -> None:
        """Stop everything `up` started here, even when KAFKA_BOOTSTRAP / DATABASE_URL are now set
        (e.g. after sourcing .run/stack.env): local servers are found by their pid file and data folder."""
        self.stop_services()
        self.kafka.stop()
        if (self.postgres.data_dir / "PG_VERSION").exists():
            self.postgres.stop()


def _read_env(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    values = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip("'\"")
    return values


def _write_private(path: Path, data: bytes) -> None:
    """Write a key readable by its owner only, atomically (a reader never sees half a key)."""
    part = path.with_name(path.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(part, path)


def _write_env(path: Path, values: dict[str, str], *, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{k}='{v}'\n" for k, v in values.items()))
    path.chmod(mode)


def _last_line(path: Path) -> str:
    if not path.exists():
        return "(no log)"
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(empty log)"


def _print_urls(values: dict[str, str], users_file: Path | None = None) -> None:
    print("\nThe exchange is up:")
    for svc in SERVICES:
        print(f"  {svc:<10} {values[svc.upper() + '_URL']}   (API docs: {values[svc.upper() + '_URL']}/docs)")
    print(f"  portal     {values['PUBLISH_URL']}/")
    print(f"  workbench  {values['WORKBENCH_URL']}/   (staff accounts: `exchange user add`)")
    print(f"  Kafka      {values['KAFKA_BOOTSTRAP']}")
    if users_file is not None:
        print(f"  Kafka users (SASL/SCRAM-SHA-512) and their passwords: {users_file}")
    print("  tokens and URLs: .run/stack.env   (`set -a; . .run/stack.env; set +a`)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy.stack")
    parser.add_argument("command", choices=["up", "run", "down", "infra", "status"])
    args = parser.parse_args(argv)
    stack = Stack()
    try:
        if args.command == "up":
            _print_urls(stack.up(), stack.kafka.security.file if stack.kafka.security else None)
        elif args.command == "infra":
            stack.start_infra()
        elif args.command == "down":
            stack.down()
            print("stopped")
        elif args.command == "status":
            for svc in SERVICES:
                print(svc, "running" if stack.service_pid_file(svc).exists() else "stopped")
        elif args.command == "run":
            stopping: list[int] = []
            signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
            try:
                _print_urls(stack.up(), stack.kafka.security.file if stack.kafka.security else None)
                print("\nCtrl-C stops everything.", flush=True)
                _wait_forever(lambda: bool(stopping))
            except KeyboardInterrupt:
                pass
            finally:
                print("\nstopping …", flush=True)
                stack.down()
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _wait_forever(stop: Callable[[], bool]) -> None:
    while not stop():
        time.sleep(0.5)


if __name__ == "__main__":
    raise SystemExit(main())
