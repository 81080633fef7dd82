"""Webhook subscriptions against real HTTP servers on loopback: retries until recovery with every event
exactly once and in order per subject, Standard Webhooks signatures, and each fault with a visible state."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import orjson
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI, Request, Response
from standardwebhooks import Webhook

from services.bridge import store
from services.bridge.webhooks import Dispatcher
from services.common.db import sql
from tests.helpers import eventually
from tests.integration.bridge.conftest import MovableClock, Outcomes, bearer, disclosure, on_loopback, subject_code


class Receiver:
    """A subscriber endpoint: fails the first `fail` requests with `status`, then verifies and keeps."""

    def __init__(self, *, fail: int = 0, status: int = 500, delay: float = 0.0) -> None:
        self.fail = fail
        self.status = status
        self.delay = delay
        self.release: asyncio.Event | None = None  # when set: keep, then answer only once it is set
        self.secret: str | None = None
        self.requests = 0
        self.received: list[tuple[str, str, dict[str, Any]]] = []  # (webhook-id, ce-subject, body)
        self.app = FastAPI()

        @self.app.post("/hook")
        async def hook(request: Request) -> Response:
            self.requests += 1
            n = self.requests  # this request's number: others arrive while it sleeps
            body = await request.body()
            if self.delay and (self.fail == 0 or n <= self.fail):
                await asyncio.sleep(self.delay)  # slow throughout, or only while failing
            if n <= self.fail:
                return Response(status_code=self.status, headers={"location": "http://127.0.0.1:9/elsewhere"})
            assert self.secret is not None
            payload = Webhook(self.secret).verify(body, dict(request.headers))  # raises if the signature is bad
            assert request.headers["ce-specversion"] == "1.0"
            assert request.headers["ce-id"] == request.headers["webhook-id"]
            self.received.append((request.headers["webhook-id"], request.headers["ce-subject"], payload))
            if self.release is not None:
                await self.release.wait()
            return Response(status_code=204)


async def subscribe(bridge: httpx.AsyncClient, tokens: dict[str, str], url: str, types: list[str]) -> dict[str, Any]:
    response = await bridge.post(
        "/v1/subscriptions", json={"url": url, "types": types}, headers=bearer(tokens, "COUNTY")
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def deliveries(bridge: httpx.AsyncClient, tokens: dict[str, str], sub_id: str) -> list[dict[str, Any]]:
    response = await bridge.get(
        f"/v1/subscriptions/{sub_id}/deliveries", params={"limit": 1000}, headers=bearer(tokens, "COUNTY")
    )
    assert response.status_code == 200, response.text
    return list(response.json()["deliveries"])


async def test_a_subscriber_failing_five_times_then_recovering_receives_every_event_once_in_order_per_subject(
    bridge: httpx.AsyncClient, tokens: dict[str, str], outcomes: Outcomes
) -> None:
    receiver = Receiver(fail=5, status=500)
    async with on_loopback(receiver.app) as base:
        sub = await subscribe(bridge, tokens, base + "/hook", ["disclosure"])
        receiver.secret = sub["secret"]
        subjects = [subject_code() for _ in range(3)]
        sent = [disclosure(subjects[i % 3]) for i in range(12)]
        await outcomes.send("outcomes.disclosures", sent)
        wanted = {e.id for e in sent}
        await _every_event_once_in_order_per_subject(
            receiver, sent, subjects, "every event delivered after the failures"
        )

        async def recorded() -> list[dict[str, Any]] | None:  # the receiver keeps one before it is recorded
            log = [d for d in await deliveries(bridge, tokens, sub["id"]) if d["event_id"] in wanted]
            return log if {d["state"] for d in log} == {"delivered"} else None

        log = await eventually(recorded, what="every delivery recorded as delivered")
        retried = [d for d in log if d["attempts"] > 1]
        assert sum(d["attempts"] - 1 for d in retried) == 5  # the five failures, each in the log …
        assert all(a["status"] == 500 for d in retried for a in d["attempt_log"][:-1])
        assert (await bridge.get(f"/v1/subscriptions/{sub['id']}", headers=bearer(tokens, "AMR"))).status_code == 404
        await bridge.delete(f"/v1/subscriptions/{sub['id']}", headers=bearer(tokens, "COUNTY"))


def _self_signed(folder: Path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


async def test_timeouts_errors_redirects_and_bad_certificates_stay_pending_with_their_error_and_nothing_is_lost(
    bridge: httpx.AsyncClient, tokens: dict[str, str], outcomes: Outcomes, tmp_path: Path
) -> None:
    too_slow = Receiver(fail=2, delay=1.5)  # the bridge gives up after 1 s: the first two time out
    slow = Receiver(delay=0.3)  # slow, within the timeout: delivered
    redirect = Receiver(fail=10**6, status=307)
    bad_cert = Receiver()
    async with (
        on_loopback(too_slow.app) as a,
        on_loopback(slow.app) as b,
        on_loopback(redirect.app) as c,
        on_loopback(bad_cert.app, ssl_files=_self_signed(tmp_path)) as d,
    ):
        subs = {}
        for name, receiver, url in (
            ("too_slow", too_slow, a),
            ("slow", slow, b),
            ("redirect", redirect, c),
            ("cert", bad_cert, d),
        ):
            sub = await subscribe(bridge, tokens, url + "/hook", ["cn.credit.disclosure.corrected"])
            receiver.secret = sub["secret"]
            subs[name] = sub["id"]
        event = disclosure(subject_code(), "corrected")
        await outcomes.send("outcomes.disclosures", [event])

        async def state_of(name: str) -> dict[str, Any] | None:
            log = [x for x in await deliveries(bridge, tokens, subs[name]) if x["event_id"] == event.id]
            return log[0] if log else None

        async def delivered(name: str) -> bool:
            found = await state_of(name)
            return bool(found and found["state"] == "delivered")

        await eventually(lambda: delivered("slow"), what="the slow endpoint's delivery")
        await eventually(lambda: delivered("too_slow"), what="the timed-out endpoint's delivery after recovery")
        timed_out = await state_of("too_slow")
        assert timed_out is not None
        assert timed_out["attempts"] == 3
        assert all("timeout" in (x["error"] or "") for x in timed_out["attempt_log"][:2])

        async def failing(name: str, words: str) -> dict[str, Any] | None:
            found = await state_of(name)
            return found if found and found["attempts"] >= 2 and words in (found["last_error"] or "") else None

        moved = await failing_eventually(failing, "redirect", "not followed")
        assert moved["state"] == "pending"
        assert moved["last_status"] == 307
        tls = await failing_eventually(failing, "cert", "tls")
        assert tls["state"] == "pending"
        assert tls["last_status"] is None
        assert bad_cert.requests == 0  # the handshake failed: nothing reached the application
        for name, receiver in (("too_slow", too_slow), ("slow", slow)):
            log = await state_of(name)
            assert log is not None
            successes = [x for x in log["attempt_log"] if x["status"] == 204]
            assert len(successes) == 1  # delivered once in the bridge's log
            timed_out_after_storing = sum(1 for x in log["attempt_log"] if "timeout" in (x["error"] or ""))
            copies = [r[0] for r in receiver.received].count(event.id)
            # A request the receiver finished after the bridge's timeout is a repeat with the same
            # webhook-id, which the receiver drops; none arrives without such a timeout.
            assert 1 <= copies <= 1 + (timed_out_after_storing if name == "slow" else 0)
        for sub_id in subs.values():
            await bridge.delete(f"/v1/subscriptions/{sub_id}", headers=bearer(tokens, "COUNTY"))


async def failing_eventually(check: Any, name: str, words: str) -> dict[str, Any]:
    result: dict[str, Any] = await eventually(lambda: check(name, words), what=f"{name} failing with {words!r}")
    return result


async def test_an_endpoint_failing_for_24_hours_is_paused_with_an_alert_and_catches_up_when_resumed(
    bridge: httpx.AsyncClient, tokens: dict[str, str], outcomes: Outcomes, bridge_clock: MovableClock
) -> None:
    receiver = Receiver(fail=10**6, status=503)
    async with on_loopback(receiver.app) as base:
        sub = await subscribe(bridge, tokens, base + "/hook", ["cn.credit.disclosure.withdrawn"])
        receiver.secret = sub["secret"]
        event = disclosure(subject_code(), "withdrawn")
        await outcomes.send("outcomes.disclosures", [event])
        await eventually(lambda: _attempted(bridge, tokens, sub["id"], event.id), what="a first failed attempt")
        try:
            bridge_clock.offset = dt.timedelta(hours=25)

            async def paused() -> dict[str, Any] | None:
                body = (await bridge.get(f"/v1/subscriptions/{sub['id']}", headers=bearer(tokens, "COUNTY"))).json()
                return body if body["state"] == "paused" else None

            state = await eventually(paused, what="the subscription paused")
            assert state["alerts"]
            assert state["alerts"][0]["kind"] == "paused"
            assert state["deliveries"]["pending"] >= 1  # kept, not dropped

            async def gauge_counts_it() -> bool:  # other tests' subscriptions may be paused too: at least
                metrics = (await bridge.get("/metrics")).text
                found = re.search(r'^exchange_webhook_backlog\{subscription_state="paused"\} (\S+)$', metrics, re.M)
                return found is not None and float(found[1]) >= state["deliveries"]["pending"]

            await eventually(gauge_counts_it, what="the backlog gauge to count the paused subscription's deliveries")
            receiver.fail = 0
            resumed = await bridge.post(f"/v1/subscriptions/{sub['id']}/resume", headers=bearer(tokens, "COUNTY"))
            assert resumed.json()["state"] == "active"

            async def arrived() -> bool:
                return event.id in {r[0] for r in receiver.received}

            await eventually(arrived, what="the waiting delivery after resume")
            assert [r[0] for r in receiver.received].count(event.id) == 1
        finally:
            bridge_clock.offset = dt.timedelta()
            await bridge.delete(f"/v1/subscriptions/{sub['id']}", headers=bearer(tokens, "COUNTY"))


async def _attempted(bridge: httpx.AsyncClient, tokens: dict[str, str], sub_id: str, event_id: str) -> bool:
    return any(d["event_id"] == event_id and d["attempts"] >= 1 for d in await deliveries(bridge, tokens, sub_id))


async def test_subscriptions_are_role_filtered_and_the_secret_is_shown_once(
    bridge: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    amr = bearer(tokens, "AMR")
    grades = await bridge.post(
        "/v1/subscriptions", json={"url": "https://x.example/h", "types": ["grade"]}, headers=amr
    )
    assert grades.status_code == 403
    assert grades.json()["errors"][0]["path"] == "/types/0"
    own = await bridge.post(
        "/v1/subscriptions", json={"url": "https://x.example/h", "types": ["cn.credit.objection.filed"]}, headers=amr
    )
    assert own.status_code == 201
    assert own.json()["secret"].startswith("whsec_")
    again = await bridge.get(f"/v1/subscriptions/{own.json()['id']}", headers=amr)
    assert "secret" not in again.json()  # shown once
    auditor = await bridge.post(
        "/v1/subscriptions", json={"url": "https://x.example/h", "types": ["grade"]}, headers=bearer(tokens, "AUDITOR")
    )
    assert auditor.status_code == 403
    anonymous = await bridge.get("/v1/subscriptions")
    assert anonymous.status_code == 401
    await bridge.delete(f"/v1/subscriptions/{own.json()['id']}", headers=amr)


async def test_deliveries_sent_but_not_recorded_when_the_dispatcher_is_lost_go_again_under_the_same_id(
    bridge: httpx.AsyncClient, tokens: dict[str, str], outcomes: Outcomes, bridge_clock: MovableClock
) -> None:
    """The dispatcher's task is cancelled (everything it held in memory is gone) after the receiver has
    kept two deliveries and before their answers came back: nothing is lost, the two go again after their
    lease with the same webhook-id (the receiver drops the repeat), order per subject holds."""
    runtime = bridge.app.state.runtime  # type: ignore[attr-defined]
    receiver = Receiver()
    receiver.release = asyncio.Event()
    async with on_loopback(receiver.app) as base:
        sub = await subscribe(bridge, tokens, base + "/hook", ["cn.credit.disclosure.published"])
        receiver.secret = sub["secret"]
        subjects = [subject_code() for _ in range(2)]
        sent = [disclosure(subjects[i % 2]) for i in range(4)]
        await outcomes.send("outcomes.disclosures", sent)

        async def heads_kept() -> bool:  # the first event of each subject; the next ones wait behind them
            return {r[0] for r in receiver.received} == {sent[0].id, sent[1].id}

        await eventually(heads_kept, what="the first event of each subject at the receiver")
        try:
            (old,) = [t for t in runtime.tasks if t.get_name() == "bridge:webhooks"]
            old.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await old
            runtime.tasks.remove(old)
            receiver.release.set()
            state = bridge.app.state  # type: ignore[attr-defined]
            runtime.spawn(
                "webhooks", Dispatcher(runtime.engine, state.settings, bridge_clock, state.wakeup).run(runtime.stop)
            )
            bridge_clock.offset = dt.timedelta(seconds=state.settings.webhook_timeout_seconds * 3 + 31)  # leases over

            async def all_in() -> bool:
                return {e.id for e in sent} <= {r[0] for r in receiver.received}

            await eventually(all_in, what="every event after the dispatcher was lost")
        finally:
            bridge_clock.offset = dt.timedelta()
        ids = [r[0] for r in receiver.received]
        assert ids.count(sent[0].id) == ids.count(sent[1].id) == 2  # repeats, with the same id
        assert ids.count(sent[2].id) == ids.count(sent[3].id) == 1
        kept = list(dict.fromkeys(ids))  # what a receiver that drops repeats by webhook-id keeps
        for subject in subjects:
            assert [i for i in kept if i in {e.id for e in sent if e.subject == subject}] == [
                e.id for e in sent if e.subject == subject
            ]

        async def recorded() -> bool:  # the receiver keeps a delivery before its answer is recorded
            log = {d["event_id"]: d for d in await deliveries(bridge, tokens, sub["id"])}
            return {log[e.id]["state"] for e in sent} == {"delivered"}

        await eventually(recorded, what="every delivery recorded as delivered")
        await bridge.delete(f"/v1/subscriptions/{sub['id']}", headers=bearer(tokens, "COUNTY"))


def _rows_read(plan: dict[str, Any], relation: str) -> int:
    """Rows the plan's scans of `relation` visited (returned or filtered out), over every loop."""
    own = 0
    if plan.get("Relation Name") == relation and plan["Node Type"] != "ModifyTable":  # a scan, not the write
        visited = plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
        own = int((visited + plan.get("Rows Removed by Index Recheck", 0)) * plan.get("Actual Loops", 1))
    return own + sum(_rows_read(child, relation) for child in plan.get("Plans", []))


async def test_a_backlog_of_many_events_for_few_subjects_is_claimed_head_by_head_without_walking_it(
    bridge: httpx.AsyncClient, tokens: dict[str, str], bridge_clock: MovableClock
) -> None:
    """1,000 deliveries over 50 subjects: a claim reads the 50 queue heads, not the backlog behind them; a
    claim while every head is leased reads no delivery; recording a head leases its successor in the same
    transaction; then every event reaches the receiver once and in order per subject."""
    runtime = bridge.app.state.runtime  # type: ignore[attr-defined]
    receiver = Receiver()
    async with on_loopback(receiver.app) as base:
        sub = await subscribe(bridge, tokens, base + "/hook", ["disclosure"])
        receiver.secret = sub["secret"]
        subjects = [subject_code() for _ in range(50)]
        sent = [disclosure(subjects[i % 50]) for i in range(1000)]
        feed = [
            {
                "id": e.id,
                "type": e.type,
                "family": "disclosure",
                "subject": e.subject,
                "departments": ["AMR"],
                "time": e.time,
                "source": e.source,
                "data": orjson.dumps(e.data).decode(),
            }
            for e in sent
        ]
        now = bridge_clock.now()
        queued = [{"sub": sub["id"], "event": e.id, "subject": e.subject, "now": now} for e in sent]
        lease = now + dt.timedelta(minutes=5)

        async def explain_claim(conn: Any) -> tuple[int, dict[str, Any]]:
            result = await conn.execute(
                sql("EXPLAIN (ANALYZE, FORMAT JSON) " + store.CLAIM_SQL), {"now": now, "lease": lease, "n": 1000}
            )
            plan = result.scalar_one()[0]["Plan"]
            return int(plan["Actual Rows"]), plan

        async with runtime.engine.connect() as conn, conn.begin() as transaction:  # no dispatcher sees it; rolled back
            await store.append_feed(conn, feed)
            await store.insert_deliveries(conn, queued)
            # Index paths only: on tables this small a sequential scan is cheapest and says nothing of the
            # claim's shape; through its indexes the claim must read the heads, not the backlog behind them.
            await conn.execute(sql("SET LOCAL enable_seqscan = off"))
            claimed, plan = await explain_claim(conn)
            assert claimed >= 50  # every queue's head (and any due head left by an earlier test)
            # The due heads are read once to choose and once to lease, each head's delivery once: about
            # 50 rows each, where walking the queues would read the 950 deliveries waiting behind them.
            assert _rows_read(plan, "delivery_heads") <= 2 * claimed
            assert _rows_read(plan, "deliveries") <= claimed
            again, plan = await explain_claim(conn)
            assert again == 0
            # At most the heads themselves (which plan reads them depends on the table's statistics),
            # never a delivery: the backlog behind a leased head costs the claim nothing.
            assert _rows_read(plan, "delivery_heads") <= claimed
            assert _rows_read(plan, "deliveries") == 0
            heads = set(
                (
                    await conn.execute(
                        sql("SELECT delivery_id FROM bridge.delivery_heads WHERE subscription_id = :s"),
                        {"s": sub["id"]},
                    )
                ).scalars()
            )
            assert len(heads) == 50
            successors = await store.record_attempts(
                conn,
                [{"id": i, "n": 1, "at": now, "status": 204, "error": None, "duration_ms": 1} for i in heads],
                [],
                now=now,
                lease_until=lease,
            )
            assert {r.event_id for r in successors} == {e.id for e in sent[50:100]}  # each subject's second
            await transaction.rollback()

        async with runtime.engine.begin() as conn:  # now for real: the dispatcher delivers the backlog
            await store.append_feed(conn, feed)
            await store.insert_deliveries(conn, queued)
        await _every_event_once_in_order_per_subject(receiver, sent, subjects, "the whole backlog at the receiver")

        async def queues_emptied() -> bool:
            # the receiver sees a delivery before the dispatcher has recorded it: the last head rows go a
            # moment after the last request
            async with runtime.engine.connect() as conn:
                left = await conn.scalar(
                    sql("SELECT count(*) FROM bridge.delivery_heads WHERE subscription_id = :s"), {"s": sub["id"]}
                )
            return left == 0

        await eventually(queues_emptied, what="every queue emptied, its head row gone")
        await bridge.delete(f"/v1/subscriptions/{sub['id']}", headers=bearer(tokens, "COUNTY"))


async def _every_event_once_in_order_per_subject(receiver: Any, sent: list[Any], subjects: Any, what: str) -> None:
    """Waits until every sent event reached the receiver, then: each once, in order per subject."""
    wanted = {e.id for e in sent}

    async def all_in() -> bool:
        return wanted <= {r[0] for r in receiver.received}

    await eventually(all_in, what=what)
    mine = [r for r in receiver.received if r[0] in wanted]
    assert len(mine) == len(wanted), "an event arrived twice"
    per_subject: dict[str, list[str]] = defaultdict(list)
    for event_id, subject, _ in mine:
        per_subject[subject].append(event_id)
    for subject in subjects:
        assert per_subject[subject] == [e.id for e in sent if e.subject == subject]
