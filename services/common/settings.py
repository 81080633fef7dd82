"""Settings every service shares, read from the environment and validated at start.

`DATABASE_URL` and `KAFKA_BOOTSTRAP` keep the names of API.md's `.run/stack.env`; everything else is
`EXCHANGE_*`. Each service adds its own settings class with its own prefix (`INGEST_`, `PUBLISH_` …).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXCHANGE_", extra="ignore", populate_by_name=True)

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

    def topic(self, logical_name: str) -> str:
        """Kafka topic name for a logical topic of the catalogue (`records.acts` → `exchange.records.acts`)."""
        return self.topic_prefix + logical_name

    @property
    def asyncpg_dsn(self) -> str:
        """The same URL in the form raw asyncpg accepts."""
        return self.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
