from services.common.runtime import serve
from services.sanctions.settings import SanctionsSettings

settings = SanctionsSettings()
serve(
    "services.sanctions.app:factory",
    service="sanctions",
    host=settings.host,
    port=settings.port,
    settings=settings,
)
