"""Receipts: a department's proof of what it reported and when (DOMAIN §10).

`hash` is SHA-256 of the canonical JSON of `{"department", "record"}`; receipts chain per department
(`prev_hash` is the previous receipt's `hash`, `seq` counts from 1) and are signed with the exchange's
Ed25519 key over the canonical JSON of the receipt without its signature. Anyone holding the public key
(`GET /v1/receipts/public-key`) can verify a receipt offline.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

import nacl.signing
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.common.envelope import dumps

GENESIS = "0" * 64  # prev_hash of a department's first receipt


def record_hash(department: str, record: dict[str, Any]) -> str:
    return hashlib.sha256(dumps({"department": department, "record": record})).hexdigest()


def content_hash(record: dict[str, Any]) -> bytes:
    """What idempotency compares: the submitted record alone."""
    return hashlib.sha256(dumps(record)).digest()


def hashes_of(department: str, canonical_record: bytes) -> tuple[bytes, str]:
    """`content_hash` and `record_hash` from the record's canonical JSON, made once by the writer (which also
    stores and publishes those bytes). The canonical JSON of `{"department", "record"}` is its two members in
    that order (sorted keys, no white space) around the record's own canonical JSON."""
    wrapped = b'{"department":' + dumps(department) + b',"record":' + canonical_record + b"}"
    return hashlib.sha256(canonical_record).digest(), hashlib.sha256(wrapped).hexdigest()


def signing_payload(receipt: dict[str, Any]) -> bytes:
    return dumps({k: v for k, v in receipt.items() if k != "signature"})


class ReceiptSigner:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        from services.ingest.keyring import key_id

        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)  # carried in every receipt (signed with it): see keyring.py
        # Signing runs once per record on the hot path: libsodium (PyNaCl) signs the same bytes faster than
        # OpenSSL through cryptography. Ed25519 is deterministic (RFC 8032), so the signature is identical.
        raw = private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        self._sodium = nacl.signing.SigningKey(raw)

    @classmethod
    def from_file(cls, path: Path) -> ReceiptSigner:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return cls(key)

    def sign(self, receipt: dict[str, Any]) -> str:
        return base64.b64encode(self._sodium.sign(signing_payload(receipt)).signature).decode()

    def public_key_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()


def generate_key_file(path: Path) -> None:
    """Write a new Ed25519 key (PEM, mode 600). For development stacks; production keys come from the operator."""
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)


def verify(receipt: dict[str, Any], public_key: Ed25519PublicKey | dict[str, Ed25519PublicKey]) -> bool:
    """Check the signature with one key, or with a key ring (key id → key): the receipt's `key_id` picks the
    key; a receipt from before key ids is tried against every key of the ring."""
    from cryptography.exceptions import InvalidSignature

    if isinstance(public_key, dict):
        kid = receipt.get("key_id")
        candidates = list(public_key.values()) if kid is None else [k for i, k in public_key.items() if i == kid]
    else:
        candidates = [public_key]
    for key in candidates:
        try:
            key.verify(base64.b64decode(receipt["signature"]), signing_payload(receipt))
        except (InvalidSignature, KeyError, ValueError):
            continue
        return True
    return False


def iso(instant: datetime) -> str:
    return instant.isoformat(timespec="microseconds")
