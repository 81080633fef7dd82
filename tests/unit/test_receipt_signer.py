"""Receipts are signed with libsodium (issue 19): the signature must be the one OpenSSL gives for the same
key and bytes, and verify with the public key as before."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.ingest.receipts import ReceiptSigner, signing_payload, verify


def test_a_receipt_signed_with_libsodium_is_the_openssl_signature_and_verifies() -> None:
    key = Ed25519PrivateKey.generate()
    signer = ReceiptSigner(key)
    receipt = {"record_id": "R-1", "department": "AMR", "seq": 1, "hash": "ab", "prev_hash": "00", "warnings": []}
    receipt["signature"] = signer.sign(receipt)
    assert base64.b64decode(receipt["signature"]) == key.sign(signing_payload(receipt))
    assert verify(receipt, signer.public_key)
    assert not verify({**receipt, "seq": 2}, signer.public_key)
