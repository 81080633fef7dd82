from services.common.runtime import serve
from services.supervision.settings import SupervisionSettings

settings = SupervisionSettings()
serve(
    "services.supervision.app:factory",
    service="supervision",
    host=settings.host,
    port=settings.port,
    settings=settings,
)
