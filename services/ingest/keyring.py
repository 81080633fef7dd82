"""Receipt signing keys and their rotation.

The current private key is `INGEST_SIGNING_KEY_FILE`. Every public key that ever signed a receipt is kept
beside it in `<key dir>/public/<key id>.pem` and served by `GET /v1/receipts/public-keys`, so receipts signed
before a rotation keep verifying. The key id is the first 16 hex digits of SHA-256 over the raw 32-byte
public key: anyone can recompute it from the PEM. Receipts issued before key ids existed carry none and are
checked against every published key.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def public_dir(key_file: Path) -> Path:
    return key_file.parent / "public"


def load_private(key_file: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{key_file} does not hold an Ed25519 private key")
    return key


def publish(key_file: Path, public_key: Ed25519PublicKey) -> str:
    """Keep `public_key` among the published ones (idempotent); returns its key id."""
    kid = key_id(public_key)
    folder = public_dir(key_file)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{kid}.pem"
    if not target.exists():
        # Written aside and renamed: the worker processes of one ingest publish at the same moment, and one
        # of them may read the folder (`published_keys`) while another writes.
        staging = folder / f".{kid}.{os.getpid()}.tmp"
        staging.write_text(public_pem(public_key))
        os.replace(staging, target)
    return kid


def published_keys(key_file: Path, folder: Path | None = None) -> dict[str, Ed25519PublicKey]:
    """Every published public key by key id, the current key's included. `folder` overrides where the
    retired public keys are (INGEST_PUBLIC_KEYS_DIR, e.g. a read-only Kubernetes secret mount)."""
    keys: dict[str, Ed25519PublicKey] = {}
    folder = folder or public_dir(key_file)
    for pem in sorted(folder.glob("*.pem")) if folder.is_dir() else []:
        key = serialization.load_pem_public_key(pem.read_bytes())
        if isinstance(key, Ed25519PublicKey):
            keys[key_id(key)] = key
    if key_file.exists():
        current = load_private(key_file).public_key()
        keys[key_id(current)] = current
    return keys


def rotate(key_file: Path) -> tuple[str | None, str]:
    """Publish the current key's public half, then make a new key current (atomic rename, mode 600).
    Returns (old key id or None, new key id). Ingest replicas sign with the new key once restarted."""
    old: str | None = None
    if key_file.exists():
        old = publish(key_file, load_private(key_file).public_key())
    new_key = Ed25519PrivateKey.generate()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    staging = key_file.with_name(key_file.name + ".new")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(
            new_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    new = publish(key_file, new_key.public_key())  # published before it signs anything
    os.replace(staging, key_file)
    return old, new


def keyset_json(keys: dict[str, Ed25519PublicKey], current: str) -> dict[str, object]:
    """The body of `GET /v1/receipts/public-keys` (also accepted by `exchange audit verify-receipts --public-key`)."""
    return {
        "current": current,
        "keys": [{"key_id": kid, "algorithm": "Ed25519", "public_key_pem": public_pem(k)} for kid, k in keys.items()],
    }


def keys_from_json(document: dict[str, object]) -> dict[str, Ed25519PublicKey]:
    keys: dict[str, Ed25519PublicKey] = {}
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise ValueError("a key set needs a `keys` list (GET /v1/receipts/public-keys)")
    for entry in entries:
        key = serialization.load_pem_public_key(str(entry["public_key_pem"]).encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"key {entry.get('key_id')} is not an Ed25519 public key")
        keys[key_id(key)] = key  # recomputed, never trusted from the document
    return keys
