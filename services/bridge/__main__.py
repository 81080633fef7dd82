from services.bridge.settings import BridgeSettings
from services.common.runtime import serve

settings = BridgeSettings()
serve(
    "services.bridge.app:factory",
    service="bridge",
    host=settings.host,
    port=settings.port,
    settings=settings,
    workers=settings.workers,
)
