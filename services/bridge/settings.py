"""Bridge settings (`BRIDGE_*`), on top of the shared ones."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings


class BridgeSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="BRIDGE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8008
    pool_size: int = 10
    # Worker processes on the one port (`services.common.runtime.serve`), each with the whole lifespan:
    # consumer (one group), webhook dispatcher and province pusher (they claim side by side with FOR UPDATE
    # SKIP LOCKED, as replicas do), outbox relay (one leads). Webhook sending is CPU-bound in the HTTP client:
    # more processes, more deliveries per second where there are cores for them (bench S5).
    workers: int = Field(default=1, ge=1, le=16)
    tick_seconds: float = Field(default=60.0, gt=0)
    # How often the delivery backlog gauges are read from the database (the outbox gauge's 5 s).
    backlog_sample_seconds: float = Field(default=5.0, gt=0)
    # Webhooks. A request that has not answered within the timeout is a failed attempt.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_concurrency: int = Field(default=200, ge=1, le=2000)
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0)
    webhook_retry_cap_seconds: float = Field(default=3600.0, gt=0)
    # A delivery failing this long pauses its subscription with an alert (issue 20: at least 24 hours).
    webhook_pause_after_hours: float = Field(default=24.0, ge=24.0)
    # Endpoints must be https:// unless this is on (development and the tests' loopback receivers).
    webhook_allow_http: bool = False
    # Extra trust anchors (PEM) for subscriber certificates; the system store otherwise.
    webhook_ca_file: Path | None = None
    # How long an idle dispatcher waits for a NOTIFY before looking again (due retries, lost notifications).
    idle_seconds: float = Field(default=1.0, gt=0)
    feed_max_wait_seconds: float = Field(default=30.0, ge=0, le=60)
    # The provincial platform (GB/T 39443 service interface, docs/bridge-wire-format.md). Unset: records
    # are kept pending (and exported as dated files) until it is configured.
    province_url: str | None = None
    province_token: SecretStr | None = None
    province_batch: int = Field(default=200, ge=1, le=5000)
    province_timeout_seconds: float = Field(default=30.0, gt=0)
    province_retry_base_seconds: float = Field(default=30.0, gt=0)
    province_retry_cap_seconds: float = Field(default=900.0, gt=0)
    # Inbound national lists (docs/bridge-wire-format.md §4): rows go to ingest under the national-channel
    # credential of their receiving department (a department token issued with the name `national:<code>`),
    # given as JSON: BRIDGE_NATIONAL_TOKENS='{"COURT": "cx_…", "TAX": "cx_…"}'.
    ingest_url: str | None = None
    national_tokens: dict[str, SecretStr] = Field(default_factory=dict)
    # Repair applications forwarded by 信用中国 (§5) are filed with publish under this county credential.
    publish_url: str | None = None
    publish_token: SecretStr | None = None
    # Webhook secrets are sealed at rest with this Fernet key (services/bridge/secret_box.py); several
    # comma-separated keys rotate (the first seals). Or the file holding it (`make up` writes one under
    # .run/keys). Neither: the development key, which the production guard refuses.
    secrets_key: SecretStr | None = None
    secrets_key_file: Path | None = None

    def secrets_key_text(self) -> str | None:
        if self.secrets_key is not None:
            return self.secrets_key.get_secret_value()
        if self.secrets_key_file is not None:
            return self.secrets_key_file.read_text(encoding="utf-8").strip()
        return None

    def production_problems(self) -> list[str]:
        """The bridge's own refusals for the production guard (services/common/production.py)."""
        from services.bridge.secret_box import DEVELOPMENT_KEY, SecretBox
        from services.common.production import is_development_file

        if self.secrets_key_file is not None and is_development_file(self.secrets_key_file):
            return [
                f"BRIDGE_SECRETS_KEY_FILE={self.secrets_key_file} is the development key written by `make up`; "
                "give the operator's own key (BRIDGE_SECRETS_KEY from a Secret)"
            ]
        try:
            text = self.secrets_key_text()
        except OSError as exc:
            return [f"BRIDGE_SECRETS_KEY_FILE cannot be read ({exc.strerror}); webhook secrets need their key"]
        keys = [k.strip() for k in (text or "").split(",") if k.strip()]
        if not keys:
            return [
                "BRIDGE_SECRETS_KEY is not set: webhook secrets would be sealed with the development key; "
                "set a Fernet key (deploy/README.md: `Fernet.generate_key()` of cryptography)"
            ]
        if DEVELOPMENT_KEY in keys:
            return ["BRIDGE_SECRETS_KEY is the development key shipped in this repository; set the county's own key"]
        try:
            SecretBox(keys)
        except ValueError:
            return ["BRIDGE_SECRETS_KEY is not a Fernet key (32 url-safe base64-encoded bytes, comma-separated)"]
        return []
