"""Reports settings (`REPORTS_*`), on top of the shared ones."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.common.ratelimit import parse_networks
from services.common.settings import REPO_ROOT, CommonSettings


class ReportsSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTS_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8006
    pool_size: int = 10
    signing_key_file: Path = REPO_ROOT / ".run" / "keys" / "report-ed25519.pem"
    """Ed25519 key that signs reports (its own key, not the receipt key: a report key can be rotated or
    revoked without touching the receipt chain). Generated on first `make up`."""
    public_url: str = "http://127.0.0.1:8006"
    """Where the public reaches this service: the verification URL and QR code printed on every report."""
    portal_url: str = "http://127.0.0.1:8004/"
    """The public portal (publish), linked from the verification page."""
    public_report_per_minute: float = Field(default=30.0, gt=0)
    """Public report issues (下载信用报告, 专项信用报告) per client address: sustained rate."""
    public_report_burst: int = Field(default=10, ge=1)
    public_verify_per_minute: float = Field(default=600.0, gt=0)
    """Verification look-ups and uploads per client address: sustained rate."""
    public_verify_burst: int = Field(default=60, ge=1)
    rate_limit_exempt: str = "127.0.0.0/8,::1"
    max_upload_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    """Largest report file the verification page accepts (413 beyond)."""

    @field_validator("rate_limit_exempt")
    @classmethod
    def _exempt_networks(cls, value: str) -> str:
        parse_networks(value)
        return value
