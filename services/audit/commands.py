"""`exchange audit …` commands: the auditor's tools, read-only on topics and databases."""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import text

from services.audit.receipts import TopicMessage, VerificationReport, verify_topic_messages
from services.audit.topic_reader import read_all
from services.common.catalogue import load_catalogue
from services.common.db import create_engine
from services.common.kafka import KafkaAuth
from services.common.settings import CommonSettings
from services.ingest.receipts import ReceiptSigner


def public_key(path: Path | None) -> Ed25519PublicKey:
    """The key receipts are checked with: a PEM public key file, or the ingest signing key's public half."""
    import os

    if path is not None:
        key = load_pem_public_key(path.read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"{path} is not an Ed25519 public key")
        return key
    signing = os.environ.get("INGEST_SIGNING_KEY_FILE")
    if not signing:
        raise ValueError("give --public-key (GET /v1/receipts/public-key of ingest) or set INGEST_SIGNING_KEY_FILE")
    return ReceiptSigner.from_file(Path(signing)).public_key


def public_keys(path: Path | None, ingest_url: str | None = None) -> dict[str, Ed25519PublicKey]:
    """The keys receipts are checked with, by key id: from a file (a PEM public key, or the JSON of
    `GET /v1/receipts/public-keys`), else fetched from ingest (`--ingest-url`, INGEST_URL, or :8001).
    No private key is needed."""
    import os
    import urllib.request

    import orjson

    from services.ingest.keyring import key_id, keys_from_json

    if path is not None:
        content = path.read_bytes()
        if content.lstrip().startswith(b"{"):
            return keys_from_json(orjson.loads(content))
        key = load_pem_public_key(content)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"{path} is not an Ed25519 public key")
        return {key_id(key): key}
    base = (ingest_url or os.environ.get("INGEST_URL") or "http://127.0.0.1:8001").rstrip("/")
    url = f"{base}/v1/receipts/public-keys"
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"--ingest-url must be an http(s) URL, not {base}")
    try:
        # urllib, not httpx: the CLI runs from the service image, which has no test-only packages.
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (scheme checked above)
            return keys_from_json(orjson.loads(response.read()))
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(
            f"could not fetch the public keys from {url} ({type(exc).__name__}); give --ingest-url or --public-key FILE"
        ) from exc


async def issued_receipts(settings: CommonSettings) -> tuple[dict[str, dict[int, str]], int]:
    """Receipts ingest issued whose records have left the outbox, and how many still wait in it."""
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT r.department, r.seq, r.receipt->>'hash' AS hash FROM ingest.records r "
                    "WHERE NOT EXISTS (SELECT 1 FROM ingest.outbox o WHERE o.headers @> "
                    "jsonb_build_array(jsonb_build_array('ce_id', r.department || '/' || r.record_id)))"
                )
            )
            issued: dict[str, dict[int, str]] = defaultdict(dict)
            for row in rows:
                issued[row.department][int(row.seq)] = row.hash
            waiting: int = (await conn.execute(text("SELECT count(*) FROM ingest.outbox"))).scalar_one()
        return issued, int(waiting)
    finally:
        await engine.dispose()


async def verify_receipts(
    settings: CommonSettings,
    *,
    department: str | None,
    key: Ed25519PublicKey | dict[str, Ed25519PublicKey],
    with_database: bool = True,
) -> VerificationReport:
    catalogue = load_catalogue(settings.schemas_dir)
    topics = [settings.topic(name) for name, t in sorted(catalogue.topics.items()) if t.kind == "record"]
    started = time.monotonic()
    messages: list[TopicMessage] = []
    async for m in read_all(settings.kafka_bootstrap, topics, auth=KafkaAuth.from_settings(settings)):
        messages.append(TopicMessage(m.topic, m.partition, m.offset, tuple(m.headers), m.value or b""))
        if len(messages) % 50_000 == 0:
            print(f"  read {len(messages)} messages …", file=sys.stderr, flush=True)
    issued, waiting = (await issued_receipts(settings)) if with_database else ({}, 0)
    report = verify_topic_messages(messages, key, department=department, issued=issued)
    elapsed = time.monotonic() - started
    print(
        f"read {report.messages} messages in {elapsed:.1f}s ({report.messages / max(elapsed, 1e-6):.0f}/s); "
        f"{waiting} records still waiting in the ingest outbox",
        file=sys.stderr,
    )
    return report


def print_report(report: VerificationReport, *, as_json: bool = False) -> int:
    if as_json:
        import orjson

        document = {
            "ok": report.ok,
            "messages": report.messages,
            "verified": report.verified,
            "duplicates": report.duplicates,
            "chains": dict(sorted(report.departments.items())),
            "findings": [{"department": f.department, "where": f.where, "problem": f.problem} for f in report.findings],
        }
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0 if report.ok else 1
    for finding in report.findings:
        print("PROBLEM " + finding.line())
    chains = ", ".join(f"{d} 1..{n}" for d, n in sorted(report.departments.items())) or "none"
    verdict = "receipts verified" if report.ok else f"{len(report.findings)} problem(s) found"
    print(f"{verdict}: {report.verified} records, {report.duplicates} harmless duplicates, chains: {chains}")
    return 0 if report.ok else 1


async def access_log(settings: CommonSettings, *, subject: str) -> list[dict[str, object]]:
    """Who read this subject's non-public data: every access event on the audit topic about it."""
    from services.common.envelope import CloudEvent, EnvelopeError

    entries: list[dict[str, object]] = []
    auth = KafkaAuth.from_settings(settings)
    async for m in read_all(settings.kafka_bootstrap, [settings.topic("audit.access")], auth=auth):
        if m.key != subject.encode():
            continue
        try:
            event = CloudEvent.from_kafka(list(m.headers), m.value or b"")
        except EnvelopeError:
            continue
        entries.append(event.data)
    entries.sort(key=lambda e: str(e.get("at", "")))
    return entries


def print_access(entries: list[dict[str, object]], subject: str) -> int:
    if not entries:
        print(f"no recorded reads of {subject}'s non-public data")
        return 0
    for e in entries:
        who = e.get("department") or e.get("role")
        purpose = f" purpose={e['purpose']}" if e.get("purpose") else ""
        answer = f" answer={e['answer']}" if e.get("answer") else ""
        print(f"{e['at']}  {who} ({e['role']}, credential {e['who']})  read {e['what']}{purpose}{answer}")
    print(f"{len(entries)} read(s) of {subject}'s non-public data")
    return 0
