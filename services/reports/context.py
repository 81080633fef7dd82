"""What the reports endpoints share, built once at start-up (a broken catalogue, measure list or key
stops the service before it connects)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.common.catalogue import Catalogue, load_catalogue
from services.common.clock import SHANGHAI, Clock
from services.common.jurisdiction import load_jurisdiction_file
from services.common.production import is_production
from services.ingest.receipts import generate_key_file
from services.reports.document import Signer, load_private_key
from services.reports.settings import ReportsSettings
from services.sanctions.rules.measures import load_measure_list

SERVICE = "reports"
# How long a report may be relied on (docs/decisions.md, issue 16): a check report and the public version
# for one decision, a month; a 专项信用报告 replaces certificates that counties accept for three months.
VALIDITY_DAYS: Mapping[str, int] = {"department": 30, "public": 30, "special": 90}


@dataclass(frozen=True)
class ReportsContext:
    catalogue: Catalogue
    matters: Mapping[str, str]
    signer: Signer
    keys: Mapping[str, Ed25519PublicKey]
    issuer: str
    jurisdiction_name: str
    clock: Clock
    schema: str
    audit_topic: str
    public_url: str
    max_upload_bytes: int

    def today(self) -> date:
        return self.clock.now().astimezone(SHANGHAI).date()

    def now(self) -> datetime:
        return self.clock.now()

    def valid_until(self, kind: str, issued_on: date) -> date:
        return issued_on + timedelta(days=VALIDITY_DAYS[kind])

    def verify_url(self, number: str) -> str:
        return f"{self.public_url.rstrip('/')}/verify?number={number}"

    def describe_key(self) -> dict[str, Any]:
        from services.reports.document import public_key_pem

        return {"key_id": self.signer.key_id, "algorithm": "Ed25519", "pem": public_key_pem(self.signer.public_key)}


def load_context(settings: ReportsSettings, clock: Clock, *, schema: str = "reports") -> ReportsContext:
    catalogue = load_catalogue(settings.schemas_dir)
    measures = load_measure_list(settings.schemas_dir / "measures.yaml", departments=catalogue.departments.keys())
    if not settings.signing_key_file.exists():
        if is_production(settings):
            raise FileNotFoundError(
                f"REPORTS_SIGNING_KEY_FILE={settings.signing_key_file} does not exist: in production the operator "
                "provides the reports key"
            )
        generate_key_file(settings.signing_key_file)  # development stacks only
    signer = Signer(load_private_key(settings.signing_key_file))
    name = load_jurisdiction_file(settings.schemas_dir / "jurisdiction.yaml").name
    owner = catalogue.departments.get(catalogue.owner)
    issuer = f"{name}{owner.name if owner else ''}（{name}公共信用信息平台）"
    return ReportsContext(
        catalogue=catalogue,
        matters=dict(measures.matters),
        signer=signer,
        keys={signer.key_id: signer.public_key},
        issuer=issuer,
        jurisdiction_name=name,
        clock=clock,
        schema=schema,
        audit_topic=settings.topic("audit.access"),
        public_url=settings.public_url,
        max_upload_bytes=settings.max_upload_bytes,
    )
