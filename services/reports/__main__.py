from services.common.runtime import serve
from services.reports.settings import ReportsSettings

settings = ReportsSettings()
serve(
    "services.reports.app:factory",
    service="reports",
    host=settings.host,
    port=settings.port,
    settings=settings,
)
