from services.common.runtime import serve
from services.workbench.settings import WorkbenchSettings

settings = WorkbenchSettings()
serve(
    "services.workbench.app:factory",
    service="workbench",
    host=settings.host,
    port=settings.port,
    settings=settings,
    uses_kafka=False,
)
