"""Supervision settings (`SUPERVISION_*`), on top of the shared ones."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings


class SupervisionSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="SUPERVISION_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8005
    pool_size: int = 5
    db_schema: str = Field(default="supervision", pattern=r"^[a-z][a-z0-9_]*$")
    instance: str = Field(default="supervision", pattern=r"^[a-z][a-z0-9-]*$")
    plan_part_bytes: int = Field(default=256 * 1024, ge=1024, le=512 * 1024)
    """The most population and draw one published plan event carries; a larger plan goes out in parts."""
    tick_seconds: float = Field(default=60.0, gt=0)
    """How often commitments that passed their due date with no new record are looked for (alerts)."""
