"""The department workbench (部门工作台, issue 17): server-rendered Chinese pages for department staff and
the county credit office. Wiring only; the pages are in `pages.py`, spreadsheets in `sheets.py`.

The workbench holds no credit data of its own: it reports through ingest and reads through the services'
APIs with the workbench credential acting for the signed-in user. Its own tables are the staff accounts,
their sessions, the action trail and uploaded sheets' results (schema `workbench`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping

import httpx
from fastapi import FastAPI

from services.common.catalogue import load_catalogue
from services.common.clock import Clock, SystemClock
from services.common.db import create_engine
from services.common.http import NO_OPEN_TELEMETRY, install_health
from services.workbench import pages, supervision
from services.workbench.client import Services
from services.workbench.context import WorkbenchContext
from services.workbench.settings import WorkbenchSettings

SERVICE = "workbench"


def create_app(
    settings: WorkbenchSettings | None = None,
    clock: Clock | None = None,
    clients: Mapping[str, httpx.AsyncClient] | None = None,
) -> FastAPI:
    """`clients`: HTTP clients of ingest, publish, sanctions, grading and bridge (default: their URLs)."""
    settings = settings or WorkbenchSettings()
    clock = clock or SystemClock()
    catalogue = load_catalogue(settings.schemas_dir)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url, pool_size=settings.pool_size)
        owned: list[httpx.AsyncClient] = []
        chosen = clients
        if chosen is None:
            timeout = httpx.Timeout(60.0, connect=5.0)
            urls = {
                "ingest": settings.ingest_url,
                "publish": settings.publish_url,
                "sanctions": settings.sanctions_url,
                "grading": settings.grading_url,
                "bridge": settings.bridge_url,
                "supervision": settings.supervision_url,
            }
            owned = [httpx.AsyncClient(base_url=url, timeout=timeout) for url in urls.values()]
            chosen = dict(zip(urls, owned, strict=True))
        if settings.token is None:
            raise RuntimeError("WORKBENCH_TOKEN is not set: issue one with `exchange token issue --role workbench`")
        app.state.workbench = WorkbenchContext(
            engine=engine,
            settings=settings,
            clock=clock,
            catalogue=catalogue,
            services=Services(chosen, settings.token.get_secret_value()),
        )
        try:
            yield
        finally:
            for client in owned:
                await client.aclose()
            await engine.dispose()

    app = FastAPI(
        title="Credit exchange — department workbench (部门工作台)",
        version="1",
        lifespan=lifespan,
        telemetry=NO_OPEN_TELEMETRY,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.include_router(pages.router)
    app.include_router(supervision.router)
    pages.install(app)

    async def ready() -> dict[str, str]:
        return {}

    install_health(app, service=SERVICE, ready_checks=ready)
    return app


def factory() -> FastAPI:
    return create_app()
