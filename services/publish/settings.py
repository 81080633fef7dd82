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
    # Objection and repair periods are service levels of schemas/jurisdiction.yaml: `service_levels`.
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
    reports_url: str = "http://127.0.0.1:8006"
    """The reports service as the public reaches it: the portal's 下载信用报告, 专项信用报告 and 报告核验
    post or link there (issue 16)."""
    public_cache: bool = True
    """Keep anonymous public answers (search, record, portal pages) per process, served only while no change to
    the public rows has committed since (``services/publish/public_cache.py``); ``PUBLISH_PUBLIC_CACHE=0`` off."""
    public_cache_bytes: int = Field(default=32 * 1024 * 1024, ge=0)
    """Bound of the cache: the bytes of the answers it keeps, least recently used out first."""
    public_max_body_bytes: int = Field(default=65_536, ge=1024)
    """Largest body of a /v1/ request (413 beyond): a 4000-character reason, JSON-escaped, is ~27 KiB."""

    @field_validator("rate_limit_exempt")
    @classmethod
    def _exempt_networks(cls, value: str) -> str:
        parse_networks(value)  # a typo stops the service at start-up, naming the entry
        return value
