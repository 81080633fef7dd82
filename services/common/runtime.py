"""What every service process shares at run time: engine, Kafka producer with outbox relay, the
consumer loop, background tasks, readiness, and the uvicorn entry point.

Nothing is created at import: `ServiceRuntime.start()` is called from a FastAPI lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common import metrics
from services.common.auth import Authenticator
from services.common.consumer import BatchHandler, ConsumerLoop, Handler
from services.common.db import DatabaseUnavailable, check_database, create_engine, describe
from services.common.kafka import KafkaAuth, broker_problem, make_consumer, make_producer
from services.common.outbox import OutboxRelay
from services.common.settings import CommonSettings
from services.common.tasks import sleep_or_stop

log = logging.getLogger(__name__)


@dataclass
class ConsumerSpec:
    group_id: str
    topics: Sequence[str]
    handle: Handler
    handle_batch: BatchHandler | None = None


@dataclass
class ServiceRuntime:
    name: str
    schema: str
    settings: CommonSettings
    engine: AsyncEngine
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    producer: AIOKafkaProducer | None = None
    relay: OutboxRelay | None = None
    consumer_loop: ConsumerLoop | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    consumer_ready: bool = False
    # Ingest sets this False: its commit point is PostgreSQL and the outbox absorbs a Kafka outage, so an
    # orchestrator must keep sending it traffic while the broker is down.
    kafka_required: bool = True
    # Each dependency's state at the last /readyz ("ok" or why not), reported beside the problems.
    dependencies: dict[str, str] = field(default_factory=dict)

    @classmethod
    async def start(cls, name: str, schema: str, settings: CommonSettings, *, pool_size: int = 10) -> ServiceRuntime:
        engine = create_engine(settings.database_url, pool_size=pool_size, application_name=f"credit-exchange-{name}")
        try:
            await check_database(engine)
        except DatabaseUnavailable:
            await engine.dispose()
            raise
        return cls(name=name, schema=schema, settings=settings, engine=engine)

    @property
    def kafka_auth(self) -> KafkaAuth:
        """This service's own Kafka user (EXCHANGE_KAFKA_USERNAME) on a secure cluster."""
        return KafkaAuth.from_settings(self.settings)

    def authenticator(self) -> Authenticator:
        return Authenticator(self.engine)

    def spawn(self, what: str, coro: Coroutine[Any, Any, None], *, once: bool = False) -> None:
        """Run a background loop; if it dies, log why (never silently) and stop being ready. `once`: a job
        that ends when its work is done (sealing stored secrets at start); its end is not a death, so it
        then waits for the stop like the loops do."""

        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task failed", extra={"task": what})
                raise
            if once:
                await self.stop.wait()

        self.tasks.append(asyncio.create_task(guarded(), name=f"{self.name}:{what}"))

    def start_relay(self, *, listen: str | None = None) -> OutboxRelay:
        """The outbox relay with its own producer; Kafka may be down now, the relay waits for it. `listen`:
        the channel writers NOTIFY on commit, when processes other than this one fill the outbox."""
        self.producer = make_producer(
            self.settings.kafka_bootstrap, client_id=f"{self.name}-relay", auth=self.kafka_auth
        )
        relay = OutboxRelay(self.engine, self.producer, schema=self.schema, listen=listen)
        self.relay = relay
        producer = self.producer

        async def run() -> None:
            await _start_with_retry(producer.start, self.stop, f"{self.name} producer")
            await relay.run(self.stop)

        self.spawn("outbox-relay", run())
        self.spawn("outbox-backlog", self._sample_backlog(relay))
        return relay

    def wake(self) -> None:
        """Tell the outbox relay that a commit added rows (no relay yet: nothing to tell). Every service's
        handlers and ticker get this one callable, so they all wake the relay the same way."""
        if self.relay is not None:
            self.relay.wake()

    async def _sample_backlog(self, relay: OutboxRelay, every_seconds: float = 5.0) -> None:
        """Keep `exchange_outbox_backlog` true: the relay alone only learns the backlog when it can send,
        which is exactly not the case during a Kafka outage."""
        while not self.stop.is_set():
            with contextlib.suppress(Exception):  # the database may be down too; /readyz says so
                metrics.OUTBOX_BACKLOG.labels(self.schema).set(await relay.backlog())
            await sleep_or_stop(self.stop, every_seconds)

    def start_consumer(self, spec: ConsumerSpec) -> None:
        """Run the consumer loop; if it ever fails unexpectedly it is restarted from the last committed
        offsets (safe: offsets follow database commits and the inbox drops what was already applied)."""
        dlq = make_producer(
            self.settings.kafka_bootstrap, client_id=f"{self.name}-dlq", linger_ms=0, auth=self.kafka_auth
        )

        async def run() -> None:
            await _start_with_retry(dlq.start, self.stop, f"{self.name} dead-letter producer")
            try:
                while not self.stop.is_set():
                    await self._consume_until_failure(spec, dlq)
            finally:
                await dlq.stop()

        self.spawn("consumer", run())

    async def _consume_until_failure(self, spec: ConsumerSpec, dlq: AIOKafkaProducer) -> None:
        consumer = make_consumer(
            self.settings.kafka_bootstrap,
            group_id=spec.group_id,
            topics=spec.topics,
            client_id=f"{self.name}-consumer",
            auth=self.kafka_auth,
        )
        loop = ConsumerLoop(
            engine=self.engine,
            consumer=consumer,
            dlq_producer=dlq,
            schema=self.schema,
            group_id=spec.group_id,
            handle=spec.handle,
            after_commit=self.wake,
            service=self.name,
            handle_batch=spec.handle_batch,
        )
        self.consumer_loop = loop
        await _start_with_retry(consumer.start, self.stop, f"{self.name} consumer")
        self.consumer_ready = True
        try:
            await loop.run(self.stop)
        except Exception:
            log.exception("consumer loop failed; restarting it from the last committed offsets")
            await sleep_or_stop(self.stop, 5)
        finally:
            self.consumer_ready = False
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def ready_problems(self) -> dict[str, str]:
        """What makes this service unready; every dependency's state is left in `self.dependencies`."""
        problems: dict[str, str] = {}
        states: dict[str, str] = {}
        try:
            await check_database(self.engine, timeout=2.0)
            states["database"] = "ok"
        except DatabaseUnavailable as exc:
            problems["database"] = states["database"] = str(exc)
        kafka = await broker_problem(self.settings.kafka_bootstrap, auth=self.kafka_auth)
        if kafka is None:
            states["kafka"] = "ok"
        elif self.kafka_required:
            problems["kafka"] = states["kafka"] = kafka
        else:
            states["kafka"] = f"{kafka} (records wait in the outbox; still ready)"
        if self.relay is not None and "database" not in problems:
            with contextlib.suppress(Exception):
                backlog = await self.relay.backlog()
                metrics.OUTBOX_BACKLOG.labels(self.schema).set(backlog)
                states["outbox"] = f"{backlog} event(s) waiting for Kafka" if backlog else "ok"
        self.dependencies = states
        for task in self.tasks:
            if task.done():
                problems[task.get_name()] = "stopped: " + _task_error(task)
        return problems

    async def close(self) -> None:
        self.stop.set()
        if self.tasks:
            _, pending = await asyncio.wait(self.tasks, timeout=10)
            for task in pending:
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.gather(*pending, return_exceptions=True)
        if self.producer is not None:
            with contextlib.suppress(Exception):
                await self.producer.stop()
        await self.engine.dispose()


def _task_error(task: asyncio.Task[Any]) -> str:
    if task.cancelled():
        return "cancelled"
    exc = task.exception()
    return f"{type(exc).__name__}: {exc}" if exc else "finished"


async def _start_with_retry(start: Callable[[], Awaitable[None]], stop: asyncio.Event, what: str) -> None:
    delay = 0.5
    while not stop.is_set():
        try:
            await start()
            return
        except Exception as exc:
            log.warning(
                "waiting for Kafka",
                extra={"client": what, "error": f"{type(exc).__name__}", "retry_s": delay},
            )
            await sleep_or_stop(stop, delay)
            delay = min(delay * 2, 10.0)


def serve(
    app_path: str,
    *,
    service: str,
    host: str,
    port: int,
    settings: CommonSettings,
    uses_kafka: bool = True,
    workers: int = 1,
    worker_healthcheck_seconds: int = 60,
) -> None:
    """Entry point of `python -m services.<name>`: check configuration, then run uvicorn.

    Configuration mistakes end here with one line on stderr and exit code 2, not a traceback. In production
    the guard also reads the real topics' replication from the broker (`uses_kafka=False`: the workbench).

    `workers` > 1 runs that many worker processes on one listening socket (uvicorn's supervisor restarts a
    worker that dies); each runs the app's lifespan on its own, so what must happen once per service has to
    elect itself (the outbox relay does, by advisory lock), and `/metrics` adds up every worker's counters
    through Prometheus' multiprocess mode (metrics.prepare_multiprocess). The app factory configures
    logging again in each worker (`configure_worker`): workers are spawned, not forked.

    `worker_healthcheck_seconds`: how long the supervisor waits for a worker to answer its ping before it
    kills and replaces it. uvicorn's 5 s is shorter than a spawned worker's imports take on a busy machine
    (seven services starting at once on two cores): every replacement was killed the same way and ingest
    never became ready. The answering thread runs beside the event loop, so only a wedged process misses
    a minute.
    """
    import uvicorn

    from services.common import logs
    from services.common.net import port_is_free
    from services.common.production import is_production, production_problems, topic_replication_problems

    logs.configure(service, settings.log_level)
    refusals = production_problems(
        settings, signing_key_file=getattr(settings, "signing_key_file", None), uses_kafka=uses_kafka
    )
    if not refusals and uses_kafka and is_production(settings):
        refusals = asyncio.run(topic_replication_problems(settings))
    if refusals:
        for line in refusals:
            print(f"{service}: refusing to start in production: {line}", file=sys.stderr)
        raise SystemExit(2)
    if not port_is_free(port, host):
        print(
            f"{service}: port {port} on {host} is already in use; set another port or stop what holds it",
            file=sys.stderr,
        )
        raise SystemExit(2)

    async def probe() -> None:
        engine = create_engine(settings.database_url, pool_size=1)
        try:
            await check_database(engine)
        finally:
            await engine.dispose()

    try:
        asyncio.run(probe())
    except DatabaseUnavailable as exc:
        print(f"{service}: {exc} (DATABASE_URL={describe(settings.database_url)})", file=sys.stderr)
        raise SystemExit(2) from None
    folder = None
    made_here = metrics.multiprocess_dir() is None
    if workers > 1:
        folder = metrics.prepare_multiprocess(service)
        log.info("starting worker processes", extra={"workers": workers, "metrics_dir": str(folder)})
    try:
        uvicorn.run(
            app_path,
            factory=True,
            host=host,
            port=port,
            loop="uvloop",
            http="httptools",
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=10,
            workers=workers if workers > 1 else None,
            timeout_worker_healthcheck=worker_healthcheck_seconds,
        )
    finally:
        if folder is not None:
            metrics.remove_multiprocess_dir(folder, made_here=made_here)


def configure_worker(service: str, settings: CommonSettings) -> None:
    """In an app factory: the logging `serve` set up, again in a spawned worker process (harmless in one)."""
    from services.common import logs

    logs.configure(service, settings.log_level)
