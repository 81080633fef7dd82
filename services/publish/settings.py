"""Publish settings (`PUBLISH_*`), on top of the shared ones."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings


class PublishSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="PUBLISH_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8004
    pool_size: int = 10
