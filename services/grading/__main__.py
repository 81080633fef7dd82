from services.common.runtime import serve
from services.grading.settings import GradingSettings

settings = GradingSettings()
serve(
    "services.grading.app:factory",
    service="grading",
    host=settings.host,
    port=settings.port,
    settings=settings,
)
