"""`exchange topics export` / `import`: the topics as signed JSONL, for archives and off-cluster copies.

One line per message, partition by partition in offset order: `{"topic", "partition", "offset", "timestamp",
"key", "headers", "value"}` with the topic's logical name (no prefix: an export can be imported under
another prefix), key and header values as text (every producer of the exchange writes UTF-8) and the value
as the JSON text it was. The last line is the signature: `{"export": {"lines", "sha256", "topics",
"exported_at", "key_id", "signature"}}` — SHA-256 over every line before it, signed with the receipt
signing key (Ed25519), so the published public keys (`GET /v1/receipts/public-keys`) verify an archive as
they verify receipts.

Import refuses a file whose signature or hash does not verify, and a target topic that is not empty (an
import is into an empty cluster: run `exchange topics ensure` there first, same partition counts). Messages
go to the partition they came from, in order, with key, headers and timestamp, so every subject's events
keep their order and replaying the imported topics gives the state replaying the originals gives.
"""

from __future__ import annotations

import base64
import hashlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import orjson
from aiokafka import TopicPartition
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.audit.topic_reader import read_all
from services.common.catalogue import load_catalogue
from services.common.envelope import dumps
from services.common.kafka import KafkaAuth, make_admin, make_producer
from services.common.settings import CommonSettings
from services.ingest.keyring import key_id

Progress = Callable[[str], None]


def exported_topics(settings: CommonSettings) -> list[str]:
    """Logical names of what an export holds by default: every catalogue topic (records, outcomes with the
    portal's filings, the access log), not dead letters or re-drive topics (operational, not evidence)."""
    return sorted(load_catalogue(settings.schemas_dir).topics)


def _progress_to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ExportSummary:
    lines: int
    topics: dict[str, int]
    key_id: str


async def export_topics(
    settings: CommonSettings,
    out: IO[bytes],
    signing_key: Ed25519PrivateKey,
    *,
    topics: Sequence[str] | None = None,
    progress: Progress = _progress_to_stderr,
) -> ExportSummary:
    names = list(topics or exported_topics(settings))
    full = {settings.topic(name): name for name in names}
    digest = hashlib.sha256()
    counts = dict.fromkeys(names, 0)
    lines = 0
    async for m in read_all(settings.kafka_bootstrap, list(full), auth=KafkaAuth.from_settings(settings)):
        entry = {
            "topic": full[m.topic],
            "partition": m.partition,
            "offset": m.offset,
            "timestamp": m.timestamp,
            "key": m.key.decode() if m.key is not None else None,
            "headers": [[k, v.decode()] for k, v in m.headers],
            "value": (m.value or b"").decode(),
        }
        line = orjson.dumps(entry) + b"\n"
        digest.update(line)
        out.write(line)
        counts[full[m.topic]] += 1
        lines += 1
        if lines % 10_000 == 0:
            progress(f"  exported {lines} messages …")
    kid = key_id(signing_key.public_key())
    trailer = {
        "lines": lines,
        "sha256": digest.hexdigest(),
        "topics": counts,
        "exported_at": datetime.now(UTC).isoformat(),
        "key_id": kid,
    }
    trailer["signature"] = base64.b64encode(signing_key.sign(dumps(trailer))).decode()
    out.write(orjson.dumps({"export": trailer}) + b"\n")
    return ExportSummary(lines, counts, kid)


class ImportRefused(ValueError):
    """The file does not verify, or the target is not empty: nothing was written."""


def verify_export(path: Path, keys: dict[str, Ed25519PublicKey]) -> dict[str, object]:
    """The trailer of a verified export; ImportRefused when the signature or any line does not match."""
    from cryptography.exceptions import InvalidSignature

    digest = hashlib.sha256()
    lines = 0
    trailer: dict[str, object] | None = None
    with path.open("rb") as handle:
        for raw in handle:
            if trailer is not None:
                raise ImportRefused(f"{path}: lines after the signature line")
            if raw.startswith(b'{"export":'):
                trailer = orjson.loads(raw)["export"]
                continue
            digest.update(raw)
            lines += 1
    if trailer is None:
        raise ImportRefused(f"{path}: no signature line (truncated or not an export)")
    signed = {k: v for k, v in trailer.items() if k != "signature"}
    key = keys.get(str(trailer.get("key_id")))
    if key is None:
        raise ImportRefused(f"{path}: signed with key {trailer.get('key_id')}, which is not among the public keys")
    try:
        key.verify(base64.b64decode(str(trailer["signature"])), dumps(signed))
    except (InvalidSignature, ValueError) as exc:
        raise ImportRefused(f"{path}: the signature does not verify (altered file)") from exc
    if trailer.get("lines") != lines or trailer.get("sha256") != digest.hexdigest():
        raise ImportRefused(f"{path}: content differs from what was signed ({lines} lines; altered or truncated)")
    return trailer


async def _non_empty(settings: CommonSettings, topics: Sequence[str]) -> list[str]:
    from aiokafka import AIOKafkaConsumer

    auth = KafkaAuth.from_settings(settings)
    admin = make_admin(settings.kafka_bootstrap, auth=auth)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            raise ImportRefused(f"topics missing on the target: {', '.join(missing)}; run `exchange topics ensure`")
        descriptions = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    partitions = [TopicPartition(d["topic"], p["partition"]) for d in descriptions for p in d["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, **auth.client_options())
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return sorted({tp.topic for tp, end in ends.items() if end > 0})


async def import_topics(
    settings: CommonSettings,
    path: Path,
    keys: dict[str, Ed25519PublicKey],
    *,
    progress: Progress = _progress_to_stderr,
) -> dict[str, int]:
    trailer = verify_export(path, keys)
    counts = trailer.get("topics")
    names = sorted(counts) if isinstance(counts, dict) else []
    targets = [settings.topic(name) for name in names]
    busy = await _non_empty(settings, targets)
    if busy:
        raise ImportRefused(f"target topics are not empty: {', '.join(busy)} (import only into an empty cluster)")
    producer = make_producer(
        settings.kafka_bootstrap, client_id="exchange-import", auth=KafkaAuth.from_settings(settings)
    )
    await producer.start()
    written = dict.fromkeys(names, 0)
    try:
        with path.open("rb") as handle:
            for raw in handle:
                if raw.startswith(b'{"export":'):
                    break
                entry = orjson.loads(raw)
                key = entry["key"]
                await producer.send(
                    settings.topic(entry["topic"]),
                    value=entry["value"].encode(),
                    key=key.encode() if key is not None else None,
                    partition=entry["partition"],
                    timestamp_ms=entry["timestamp"],
                    headers=[(k, v.encode()) for k, v in entry["headers"]],
                )
                written[entry["topic"]] += 1
                if sum(written.values()) % 10_000 == 0:
                    progress(f"  imported {sum(written.values())} messages …")
        await producer.flush()
    finally:
        await producer.stop()
    return written
