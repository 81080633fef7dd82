"""Grading settings (`GRADING_*`), on top of the shared ones."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings


class GradingSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="GRADING_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8002
    pool_size: int = 10
    # How often grades whose `next_review` has come are re-evaluated (a repair period ends with no new
    # record, DOMAIN §5). A grade changes on its date; this is only how soon after midnight it is noticed.
    tick_seconds: float = Field(default=60.0, gt=0)
