#!/usr/bin/env python3
"""Example client of the credit-supervision event exchange (信用信息交换平台) for a department's system.

Reports one record, retries safely, and verifies the signed receipt. Standard library plus `cryptography`
(pip install cryptography) for Ed25519; copy it into your project and adapt it.

    python exchange_client.py --url "$INGEST_URL" --token "$TOKEN_AMR" record.json

Prints one JSON line: {"status", "attempts", "receipt", "signature_valid", "hash_matches"}; exits 0 when the
record is held by the exchange and the receipt verifies, 1 when the exchange refused it (the errors are
printed), 2 when it could not be reached after every attempt.

Safe retries: the record's `id` is the idempotency key. Sending the same record again after a lost answer
(time-out, connection reset, 503) returns the original receipt (200) and never stores it twice; only a
different content under the same id is refused (409).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

RETRYABLE = {429, 502, 503, 504}


def canonical(value: Any) -> bytes:
    """The exchange's canonical JSON: UTF-8, keys sorted, no white space (what hashes and signatures cover)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def post_record(
    url: str, token: str, record: dict[str, Any], *, attempts: int = 6, timeout: float = 10.0
) -> tuple[int, int, dict[str, Any]]:
    """POST the record until the exchange answers for good: (status, attempts used, body)."""
    body = json.dumps(record, ensure_ascii=False).encode("utf-8")
    delay = 1.0
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(  # noqa: S310 (the operator's URL)
            f"{url}/v1/records",
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (the operator's URL)
                return response.status, attempt, json.loads(response.read())
        except urllib.error.HTTPError as error:
            answer = json.loads(error.read() or b"{}")
            if error.code not in RETRYABLE or attempt == attempts:
                return error.code, attempt, answer
            wait = float(error.headers.get("Retry-After") or delay)
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            # No answer: the record may or may not be stored. The same id makes the retry safe.
            if attempt == attempts:
                raise
            wait = delay
        time.sleep(min(wait, 30.0))
        delay = min(delay * 2, 30.0)
    raise AssertionError("unreachable")


def public_key(url: str, receipt: dict[str, Any]) -> Ed25519PublicKey:
    """The key that signed `receipt`: by its `key_id` from the key set when it has one, else the current key."""
    if "key_id" in receipt:
        with urllib.request.urlopen(f"{url}/v1/receipts/public-keys", timeout=10) as response:  # noqa: S310
            keys = json.loads(response.read())["keys"]
        pem = next(k["public_key_pem"] for k in keys if k["key_id"] == receipt["key_id"]).encode()
    else:
        with urllib.request.urlopen(f"{url}/v1/receipts/public-key", timeout=10) as response:  # noqa: S310
            pem = response.read()
    key = load_pem_public_key(pem)
    assert isinstance(key, Ed25519PublicKey)
    return key


def verify_receipt(receipt: dict[str, Any], key: Ed25519PublicKey) -> bool:
    """Ed25519 over the canonical JSON of the receipt without `signature` (every other field, key_id too)."""
    unsigned = {k: v for k, v in receipt.items() if k != "signature"}
    try:
        key.verify(base64.b64decode(receipt["signature"]), canonical(unsigned))
    except (InvalidSignature, ValueError):
        return False
    return True


def record_hash(department: str, record: dict[str, Any]) -> str:
    """The receipt's `hash`: proves the exchange holds exactly the record sent."""
    return hashlib.sha256(canonical({"department": department, "record": record})).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="ingest base URL, e.g. http://exchange.example:8001")
    parser.add_argument("--token", required=True, help="the department's bearer token")
    parser.add_argument("record", help="a JSON file holding one record")
    args = parser.parse_args()
    with open(args.record, encoding="utf-8") as handle:
        record = json.load(handle)
    try:
        status, attempts, body = post_record(args.url.rstrip("/"), args.token, record)
    except OSError as error:
        print(json.dumps({"error": f"the exchange could not be reached: {error}"}, ensure_ascii=False))
        return 2
    if status not in (200, 202):
        print(json.dumps({"status": status, "attempts": attempts, **body}, ensure_ascii=False))
        return 1
    receipt = body["receipt"]
    valid = verify_receipt(receipt, public_key(args.url.rstrip("/"), receipt))
    matches = receipt["hash"] == record_hash(receipt["department"], record)
    result = {"status": status, "attempts": attempts, "receipt": receipt}
    print(json.dumps({**result, "signature_valid": valid, "hash_matches": matches}, ensure_ascii=False))
    return 0 if valid and matches else 1


if __name__ == "__main__":
    sys.exit(main())
