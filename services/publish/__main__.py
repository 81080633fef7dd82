from services.common.runtime import serve
from services.publish.settings import PublishSettings

settings = PublishSettings()
serve(
    "services.publish.app:factory",
    service="publish",
    host=settings.host,
    port=settings.port,
    settings=settings,
)
