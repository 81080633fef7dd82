from services.common.runtime import serve
from services.ingest.settings import IngestSettings

settings = IngestSettings()
serve(
    "services.ingest.app:factory",
    service="ingest",
    host=settings.host,
    port=settings.port,
    settings=settings,
    workers=settings.worker_count(),
)
