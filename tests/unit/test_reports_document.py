"""Reports as documents (pure): the seal, the file trailer and what an offline check detects."""

from __future__ import annotations

from datetime import date

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.reports.document import Signer, check_file, digest, render_html, with_trailer
from services.reports.rules.view import three_years_before


def _signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


def test_trailer_verifies_the_untouched_file_only() -> None:
    signer = _signer()
    keys = {signer.key_id: signer.public_key}
    body = b"%PDF-1.7\n...report...\n%%EOF"
    signed = with_trailer(body, number="XYBG-20261120-0000001", signer=signer, pdf=True)

    ok = check_file(signed, keys)
    assert (ok.ok, ok.number, ok.key_id) == (True, "XYBG-20261120-0000001", signer.key_id)
    altered = check_file(signed.replace(b"report", b"rep0rt"), keys)
    assert (altered.ok, altered.problem) == (False, "文件内容已被改动 (the file was altered after signing)")
    other = _signer()
    assert check_file(signed, {other.key_id: other.public_key}).ok is False
    forged = with_trailer(body, number="XYBG-20261120-0000001", signer=other, pdf=True)
    assert check_file(forged, keys).ok is False
    assert check_file(body, keys).problem == "文件中没有报告签名 (no report signature in this file)"


def test_html_trailer_is_a_comment_and_the_seal_shows_digest_and_key() -> None:
    signer = _signer()
    content = {
        "number": "XYBG-20261120-0000002",
        "kind": "public",
        "issued_at": "2026-11-20T15:00:00+08:00",
        "issued_on": "2026-11-20",
        "valid_until": "2026-12-20",
        "issuer": "示范县发展和改革局",
        "requester": "信用主体本人",
        "purpose_text": "信用主体自查",
        "view": {
            "subject": {"code": "91500101MA5U7K3PXJ", "name": "示范县鑫源食品有限公司", "kind": "legal_person"},
            "as_of": "2026-11-20",
            "audience": "public",
            "period": {"from": "2023-11-21", "to": "2026-11-20"},
            "registration": None,
            "records": [],
            "lists": [],
            "repairs": [],
            "objections_pending": [],
        },
    }
    seal = {"content_digest": digest(content), "signature": "c2ln", "key_id": signer.key_id}
    html = render_html(content, seal, "http://127.0.0.1:8005/verify?number=XYBG-20261120-0000002", for_pdf=False)
    signed = with_trailer(html, number=content["number"], signer=signer, pdf=False)
    assert signed.rstrip().endswith(b"-->")
    assert check_file(signed, {signer.key_id: signer.public_key}).ok
    text = html.decode()
    assert seal["content_digest"] in text
    assert signer.key_id in text
    assert 'src="data:image/svg+xml' in text  # the QR code is inline: no external asset


def test_three_years_end_on_the_as_of_date() -> None:
    assert three_years_before(date(2026, 11, 20)) == date(2023, 11, 21)
    assert three_years_before(date(2028, 2, 29)) == date(2025, 3, 1)
