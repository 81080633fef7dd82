"""Grading settings (`GRADING_*`), on top of the shared ones."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings


class GradingSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="GRADING_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8002
    pool_size: int = 10
