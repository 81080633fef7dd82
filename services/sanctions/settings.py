"""Sanctions settings (`SANCTIONS_*`), on top of the shared ones."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings


class SanctionsSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="SANCTIONS_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8003
    pool_size: int = 10
