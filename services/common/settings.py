"""Settings every service shares, read from the environment and validated at start.

`DATABASE_URL` and `KAFKA_BOOTSTRAP` keep the names of API.md's `.run/stack.env`; everything else is
`EXCHANGE_*`. Each service adds its own settings class with its own prefix (`INGEST_`, `PUBLISH_` …).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.jurisdiction import ServiceLevels, load_service_levels

REPO_ROOT = Path(__file__).resolve().parents[2]


class CommonSettings(BaseSettings):
    # hide_input_in_errors: a validation error must not print DATABASE_URL or the Kafka password it was given.
    model_config = SettingsConfigDict(
        env_prefix="EXCHANGE_", extra="ignore", populate_by_name=True, hide_input_in_errors=True
    )

    database_url: str = Field(
        default="postgresql+asyncpg://exchange@127.0.0.1:55432/exchange",
        validation_alias=AliasChoices("DATABASE_URL", "EXCHANGE_DATABASE_URL"),
    )
    kafka_bootstrap: str = Field(
        default="127.0.0.1:19092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP", "EXCHANGE_KAFKA_BOOTSTRAP"),
    )
    # Shared settings keep their EXCHANGE_ names even inside a service's settings class, whose own
    # env_prefix (INGEST_, GRADING_ …) applies only to the fields it adds.
    topic_prefix: str = Field(default="exchange.", validation_alias="EXCHANGE_TOPIC_PREFIX")
    schemas_dir: Path = Field(default=REPO_ROOT / "schemas", validation_alias="EXCHANGE_SCHEMAS_DIR")
    jurisdiction: str = Field(default="demo-county", validation_alias="EXCHANGE_JURISDICTION")
    log_level: str = Field(default="INFO", validation_alias="EXCHANGE_LOG_LEVEL")
    environment: str = Field(default="development", validation_alias="EXCHANGE_ENVIRONMENT")
    # How this process authenticates to Kafka (SECURITY.md). PLAINTEXT is the loopback development broker;
    # SASL_PLAINTEXT + SCRAM-SHA-512 is the secure one, where each service has its own user and ACLs.
    # No TLS yet: a deployment across machines needs it (SECURITY.md, "Not yet done").
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT"] = Field(
        default="PLAINTEXT", validation_alias="EXCHANGE_KAFKA_SECURITY_PROTOCOL"
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", validation_alias="EXCHANGE_KAFKA_SASL_MECHANISM"
    )
    kafka_username: str | None = Field(default=None, validation_alias="EXCHANGE_KAFKA_USERNAME")
    # SecretStr: the value never appears in a repr, a log line or a validation error.
    kafka_password: SecretStr | None = Field(default=None, validation_alias="EXCHANGE_KAFKA_PASSWORD")
    # Replication factor `exchange topics ensure` creates topics with: 3 on a three-broker cluster.
    kafka_replication_factor: int = Field(default=1, ge=1, validation_alias="EXCHANGE_KAFKA_REPLICATION_FACTOR")

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        # Accept the libpq spelling operators paste, run on asyncpg.
        for plain in ("postgresql://", "postgres://"):
            if value.startswith(plain):
                return "postgresql+asyncpg://" + value[len(plain) :]
        if not value.startswith("postgresql+asyncpg://"):
            raise ValueError("DATABASE_URL must be a postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _kafka_credentials(self) -> Self:
        if self.kafka_security_protocol != "PLAINTEXT" and not (self.kafka_username and self.kafka_password):
            raise ValueError(
                f"EXCHANGE_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "EXCHANGE_KAFKA_USERNAME and EXCHANGE_KAFKA_PASSWORD (this service's Kafka user)"
            )
        return self

    def topic(self, logical_name: str) -> str:
        """Kafka topic name for a logical topic of the catalogue (`records.acts` → `exchange.records.acts`)."""
        return self.topic_prefix + logical_name

    @property
    def service_levels(self) -> ServiceLevels:
        """The county's service levels, from `<schemas_dir>/jurisdiction.yaml` (the one source; no env vars)."""
        return load_service_levels(self.schemas_dir)

    @property
    def asyncpg_dsn(self) -> str:
        """The same URL in the form raw asyncpg accepts."""
        return self.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
