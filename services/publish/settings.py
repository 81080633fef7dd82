"""Publish settings (`PUBLISH_*`), on top of the shared ones."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings


class PublishSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="PUBLISH_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8004
    pool_size: int = 10
    tick_seconds: float = Field(default=60.0, gt=0)
    """How often time-driven changes run: withdrawal at 公示截止期, objection escalation, provisional dates."""
    objection_working_days: int = Field(default=20, ge=1)
    """The provider answers an objection within this many working days of its filing (DOMAIN §4, §9)."""
    repair_accept_working_days: int = Field(default=3, ge=1)
    """The deciding department accepts or refuses a repair application within this many working days (36号令)."""
    repair_decide_working_days: int = Field(default=7, ge=1)
    """… and decides within this many working days of the application (36号令)."""
    repair_extension_working_days: int = Field(default=10, ge=0)
    """… plus this many when it extends the period with notice (延长办理期限)."""
    form_rate_limit: int = Field(default=10, ge=1)
    """Portal form submissions allowed per client address in ``form_rate_window_seconds``."""
    form_rate_window_seconds: float = Field(default=60.0, gt=0)
