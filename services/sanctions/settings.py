"""Sanctions settings (`SANCTIONS_*`), on top of the shared ones."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings


class SanctionsSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="SANCTIONS_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8003
    pool_size: int = 10
    tick_seconds: float = Field(default=60.0, gt=0)
    """How often cases are re-evaluated for the passing of time (a listing period ends)."""
    db_schema: str = Field(default="sanctions", pattern=r"^[a-z][a-z0-9_]*$")
    """The database schema of the service's tables (SANCTIONS_DB_SCHEMA); a rebuild uses its own."""
    instance: str = Field(default="sanctions", pattern=r"^[a-z][a-z0-9-]*$")
    """Names the consumer group (`<topic prefix><instance>`). An auditor's rebuild into an empty database
    uses its own name (and schema or DATABASE_URL) so that it reads every topic from offset 0 beside the live one."""
