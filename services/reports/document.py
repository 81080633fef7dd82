"""Reports as documents: canonical content, digest, Ed25519 signature, HTML and PDF, and the file trailer
that lets anyone holding the public key check a downloaded file offline (`exchange reports verify FILE`).

- ``content_digest``: SHA-256 of the canonical JSON of the report content (number, dates, issuer,
  subject, sections). Printed on the report.
- ``signature``: Ed25519 over the canonical JSON of ``{number, kind, key_id, content_digest, issued_at,
  valid_until}`` (the "seal"), printed on the report with the key id.
- Each file (HTML and PDF) ends with one trailer line, after the document itself (after ``%%EOF`` in a
  PDF, in a comment in HTML): base64 of ``{number, key_id, file_sha256, signature}``, the signature
  being over ``{number, key_id, file_sha256}``. Changing one byte of the file before the trailer breaks
  ``file_sha256``; forging the trailer needs the private key. Readers ignore what follows ``%%EOF``.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import segno
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.common.envelope import dumps

TEMPLATES = Path(__file__).resolve().parent / "templates"
PDF_MARK = b"\n%CREDIT-REPORT-SIGNATURE "
HTML_MARK = b"\n<!-- CREDIT-REPORT-SIGNATURE "
HTML_END = b" -->\n"
KINDS = {"department": "信用记录核查报告", "public": "信用报告（公开版）", "special": "专项信用报告"}


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "rpt-" + hashlib.sha256(raw).hexdigest()[:16]


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def digest(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(dumps(content)).hexdigest()


def seal_payload(content: Mapping[str, Any], key_id: str, content_digest: str) -> bytes:
    return dumps(
        {
            "number": content["number"],
            "kind": content["kind"],
            "key_id": key_id,
            "content_digest": content_digest,
            "issued_at": content["issued_at"],
            "valid_until": content["valid_until"],
        }
    )


@dataclass(frozen=True, slots=True)
class Signer:
    key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.key.public_key()

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_key)

    def sign(self, payload: bytes) -> str:
        return base64.b64encode(self.key.sign(payload)).decode()


@dataclass(frozen=True, slots=True)
class Issued:
    content_digest: str
    signature: str
    html: bytes
    pdf: bytes | None
    html_sha256: str
    pdf_sha256: str | None


def qr_svg_uri(url: str) -> str:
    # A fixed mask: choosing the best of eight (segno's default) is three quarters of an HTML report's
    # issue time, and any mask decodes (ISO/IEC 18004 only recommends the penalty evaluation).
    return str(segno.make(url, error="m", micro=False, mask=0).svg_data_uri(scale=3, border=2))


@cache
def _env() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), auto_reload=False)


def render_html(content: Mapping[str, Any], seal: Mapping[str, str], verify_url: str, *, for_pdf: bool) -> bytes:
    template = _env().get_template("report.html")
    html = template.render(
        c=content, seal=seal, verify_url=verify_url, qr=qr_svg_uri(verify_url), kinds=KINDS, for_pdf=for_pdf
    )
    return html.encode()


def render_pdf(html: bytes) -> bytes:
    from weasyprint import HTML  # imported late: WeasyPrint loads Pango at import

    out = io.BytesIO()
    HTML(string=html.decode(), base_url=str(TEMPLATES)).write_pdf(out)
    return out.getvalue()


def with_trailer(body: bytes, *, number: str, signer: Signer, pdf: bool) -> bytes:
    file_sha256 = hashlib.sha256(body).hexdigest()
    payload = {"number": number, "key_id": signer.key_id, "file_sha256": file_sha256}
    trailer = base64.b64encode(dumps({**payload, "signature": signer.sign(dumps(payload))}))
    return body + (PDF_MARK + trailer + b"\n" if pdf else HTML_MARK + trailer + HTML_END)


def issue(content: Mapping[str, Any], signer: Signer, verify_url: str, *, with_pdf: bool) -> Issued:
    content_digest = digest(content)
    signature = signer.sign(seal_payload(content, signer.key_id, content_digest))
    seal = {"content_digest": content_digest, "signature": signature, "key_id": signer.key_id}
    html = with_trailer(
        render_html(content, seal, verify_url, for_pdf=False), number=content["number"], signer=signer, pdf=False
    )
    pdf = None
    if with_pdf:
        body = render_pdf(render_html(content, seal, verify_url, for_pdf=True))
        pdf = with_trailer(body, number=content["number"], signer=signer, pdf=True)
    return Issued(
        content_digest=content_digest,
        signature=signature,
        html=html,
        pdf=pdf,
        html_sha256=hashlib.sha256(html).hexdigest(),
        pdf_sha256=hashlib.sha256(pdf).hexdigest() if pdf is not None else None,
    )


@dataclass(frozen=True, slots=True)
class FileCheck:
    ok: bool
    number: str | None
    key_id: str | None
    file_sha256: str
    """SHA-256 of the whole file as given (what the online verification compares)."""
    problem: str | None


def check_file(data: bytes, keys: Mapping[str, Ed25519PublicKey]) -> FileCheck:
    """Offline check of a report file against the public keys by key id (pure)."""
    whole = hashlib.sha256(data).hexdigest()
    cut = max(data.rfind(PDF_MARK), data.rfind(HTML_MARK))
    if cut < 0:
        return FileCheck(False, None, None, whole, "文件中没有报告签名 (no report signature in this file)")
    mark = PDF_MARK if data.startswith(PDF_MARK, cut) else HTML_MARK
    body, rest = data[:cut], data[cut + len(mark) :]
    rest = rest.removesuffix(b"\n") if mark is PDF_MARK else rest.removesuffix(HTML_END)
    try:
        trailer = orjson.loads(base64.b64decode(rest, validate=True))
        number, key_id, file_sha, signature = (
            str(trailer["number"]),
            str(trailer["key_id"]),
            str(trailer["file_sha256"]),
            str(trailer["signature"]),
        )
    except (ValueError, KeyError, TypeError):
        return FileCheck(False, None, None, whole, "报告签名无法读取 (the signature trailer is malformed)")
    key = keys.get(key_id)
    if key is None:
        return FileCheck(False, number, key_id, whole, f"未知的签名密钥 {key_id} (unknown key id)")
    try:
        key.verify(base64.b64decode(signature), dumps({"number": number, "key_id": key_id, "file_sha256": file_sha}))
    except (InvalidSignature, ValueError):
        return FileCheck(False, number, key_id, whole, "签名无效 (the signature does not verify)")
    if hashlib.sha256(body).hexdigest() != file_sha:
        return FileCheck(False, number, key_id, whole, "文件内容已被改动 (the file was altered after signing)")
    return FileCheck(True, number, key_id, whole, None)
