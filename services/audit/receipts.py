"""Verification of receipts against the record topics (DOMAIN §10).

For every record on a record topic: the receipt's hash matches the canonical record, its signature is the
exchange's, and the CloudEvents id and source name the same department and record. Per department the
receipts form a chain: `seq` runs 1, 2, 3 … with no gap, and each `prev_hash` is the previous `hash`.
A message whose receipt does not verify — for example one written to Kafka directly, bypassing ingest —
is reported, as is any receipt the ingest database issued that no topic carries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.common.envelope import CloudEvent, EnvelopeError
from services.ingest.receipts import GENESIS, record_hash, verify


@dataclass(frozen=True, slots=True)
class Finding:
    department: str
    where: str  # topic:partition:offset, or the department's sequence number
    problem: str

    def line(self) -> str:
        return f"{self.department or '?'} {self.where}: {self.problem}"


@dataclass
class VerificationReport:
    messages: int = 0
    verified: int = 0
    duplicates: int = 0
    departments: dict[str, int] = field(default_factory=dict)  # department → highest seq seen
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass(frozen=True, slots=True)
class TopicMessage:
    topic: str
    partition: int
    offset: int
    headers: tuple[tuple[str, bytes], ...]
    value: bytes

    @property
    def where(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


def _check_message(
    message: TopicMessage, key: Ed25519PublicKey | dict[str, Ed25519PublicKey]
) -> tuple[dict[str, Any] | None, list[str]]:
    """The message's receipt if it verifies, and what is wrong with it otherwise."""
    try:
        event = CloudEvent.from_kafka(list(message.headers), message.value)
    except EnvelopeError as exc:
        return None, [f"not a CloudEvent: {exc}"]
    record, receipt = event.data.get("record"), event.data.get("receipt")
    if not isinstance(record, dict) or not isinstance(receipt, dict):
        return None, ["no receipt: the record did not come through ingest"]
    problems = []
    department = str(receipt.get("department", ""))
    if not verify(receipt, key):
        problems.append("receipt signature is not the exchange's (forged or altered receipt)")
    if receipt.get("hash") != record_hash(department, record):
        problems.append("record content does not match the receipt's hash (altered record)")
    if event.id != f"{department}/{record.get('id')}" or receipt.get("record_id") != record.get("id"):
        problems.append(f"event id {event.id} does not match the receipt of {department}/{receipt.get('record_id')}")
    if event.source != f"/departments/{department}":
        problems.append(f"event source {event.source} is not /departments/{department}")
    return (receipt if not problems else None), problems


def verify_topic_messages(
    messages: Iterable[TopicMessage],
    key: Ed25519PublicKey | dict[str, Ed25519PublicKey],
    *,
    department: str | None = None,
    issued: Mapping[str, Mapping[int, str]] | None = None,
) -> VerificationReport:
    """Check every message; then each department's chain; then (if given) that every receipt ingest issued
    (`issued[department][seq] = hash`) is on a topic."""
    report = VerificationReport()
    chains: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for message in messages:
        report.messages += 1
        receipt, problems = _check_message(message, key)
        if receipt is None:
            dept = _claimed_department(message)
            if department is None or dept == department:
                report.findings += [Finding(dept, message.where, p) for p in problems]
            continue
        dept = receipt["department"]
        if department is not None and dept != department:
            continue
        seq = int(receipt["seq"])
        earlier = chains[dept].get(seq)
        if earlier is not None:
            if earlier["hash"] == receipt["hash"]:
                report.duplicates += 1  # the relay re-sent a batch: harmless, consumers dedupe
                continue
            report.findings.append(Finding(dept, f"seq {seq}", "two different records carry this sequence number"))
            continue
        chains[dept][seq] = receipt
        report.verified += 1
    for dept, chain in sorted(chains.items()):
        report.departments[dept] = max(chain)
        report.findings += _chain_findings(dept, chain)
    for dept, hashes in sorted((issued or {}).items()):
        if department is not None and dept != department:
            continue
        for seq, digest in sorted(hashes.items()):
            if seq not in chains.get(dept, {}):
                report.findings.append(
                    Finding(dept, f"seq {seq}", "receipt issued by ingest but the record is on no topic")
                )
            elif chains[dept][seq]["hash"] != digest:
                report.findings.append(
                    Finding(dept, f"seq {seq}", "record on the topic differs from the one ingest accepted")
                )
    return report


def _chain_findings(dept: str, chain: Mapping[int, Mapping[str, Any]]) -> list[Finding]:
    findings = []
    for seq in range(1, max(chain) + 1):
        receipt = chain.get(seq)
        if receipt is None:
            findings.append(Finding(dept, f"seq {seq}", "missing: no record with this sequence number on any topic"))
            continue
        expected = GENESIS if seq == 1 else (chain[seq - 1]["hash"] if seq - 1 in chain else None)
        if expected is not None and receipt["prev_hash"] != expected:
            findings.append(Finding(dept, f"seq {seq}", "prev_hash does not match the previous receipt (broken chain)"))
    return findings


def _claimed_department(message: TopicMessage) -> str:
    for name, value in message.headers:
        if name == "ce_source":
            return value.decode(errors="replace").rsplit("/", 1)[-1]
    return ""
