"""Publish settings (`PUBLISH_*`), on top of the shared ones."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.common.ratelimit import parse_networks
from services.common.settings import CommonSettings


class PublishSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="PUBLISH_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8004
    pool_size: int = 10
    tick_seconds: float = Field(default=60.0, gt=0)
    """How often time-driven changes run: withdrawal at 公示截止期, objection escalation, provisional dates."""
    objection_working_days: int = Field(default=20, ge=1)
    """The provider answers an objection within this many working days of its filing (DOMAIN §4, §9)."""
    withdrawal_working_days: int = Field(default=3, ge=1)
    """A revoked or changed record leaves publication within this many working days of the revocation or change
    decision (行政处罚法 Art. 48). The one place publish reads it until the jurisdiction service levels
    (schemas/jurisdiction.yaml ``withdrawal_working_days``) have a shared loader."""
    repair_accept_working_days: int = Field(default=3, ge=1)
    """The deciding department accepts or refuses a repair application within this many working days (36号令)."""
    repair_decide_working_days: int = Field(default=7, ge=1)
    """… and decides within this many working days of the application (36号令)."""
    repair_extension_working_days: int = Field(default=10, ge=0)
    """… plus this many when it extends the period with notice (延长办理期限)."""
    form_rate_limit: int = Field(default=10, ge=1)
    """Portal form submissions allowed per client address in ``form_rate_window_seconds``."""
    form_rate_window_seconds: float = Field(default=60.0, gt=0)
    # Public JSON API (SECURITY.md "Rate limits"): a token bucket per client address and replica. Reads are
    # limited far above what people browsing need (an office behind one NAT address included), writes near
    # the portal form's limit; loopback is exempt so the local stack and the benchmarks are never throttled.
    public_read_per_minute: float = Field(default=3000.0, gt=0)
    """GET /v1/disclosures, /v1/disclosures/{id}, /v1/objections/{id}, /v1/repairs/{id}: sustained rate."""
    public_read_burst: int = Field(default=300, ge=1)
    """… and how many of them one address may send at once."""
    public_write_per_minute: float = Field(default=10.0, gt=0)
    """POST /v1/objections and POST /v1/repairs (one bucket for both): sustained rate per address."""
    public_write_burst: int = Field(default=10, ge=1)
    """… and how many at once."""
    rate_limit_exempt: str = "127.0.0.0/8,::1"
    """Comma-separated addresses or networks never limited (``""`` limits everyone)."""
    public_max_body_bytes: int = Field(default=65_536, ge=1024)
    """Largest body of a /v1/ request (413 beyond): a 4000-character reason, JSON-escaped, is ~27 KiB."""

    @field_validator("rate_limit_exempt")
    @classmethod
    def _exempt_networks(cls, value: str) -> str:
        parse_networks(value)  # a typo stops the service at start-up, naming the entry
        return value
