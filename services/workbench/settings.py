"""Workbench settings (`WORKBENCH_*`), on top of the shared ones."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings


class WorkbenchSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="WORKBENCH_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8007
    pool_size: int = 5
    # Where the services are: the workbench reports and reads through their public APIs, as a system does.
    ingest_url: str = "http://127.0.0.1:8001"
    grading_url: str = "http://127.0.0.1:8002"
    sanctions_url: str = "http://127.0.0.1:8003"
    publish_url: str = "http://127.0.0.1:8004"
    bridge_url: str = "http://127.0.0.1:8008"
    supervision_url: str = "http://127.0.0.1:8005"
    token: SecretStr | None = None
    """The workbench credential (`exchange token issue --role workbench`); `make up` issues one."""
    session_minutes: int = Field(default=30, ge=1)
    """A session ends this long after its last request (idle timeout)."""
    lockout_attempts: int = Field(default=5, ge=1)
    lockout_minutes: int = Field(default=15, ge=1)
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    """Largest spreadsheet accepted (413 beyond): 10,000 rows of a wide type are about 3 MB."""
    max_rows: int = Field(default=10_000, ge=1)
