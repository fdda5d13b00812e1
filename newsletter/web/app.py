"""The FastAPI application: `newsletter serve` runs it under uvicorn.

`create_app` builds everything the routes use from settings (see `deps.Services`),
registers the one error mapping (`errors`) and the routers, and owns the delivery backend
for the app's lifetime: the lifespan closes it when the server stops. Every answer carries
the security headers, and the preview answers only for loopback names (`security`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from newsletter.core.database import get_engine
from newsletter.core.settings import Settings, get_settings
from newsletter.delivery import Backend
from newsletter.delivery.registry import make_backend
from newsletter.links.tokens import Signer
from newsletter.publishing.preview import PreviewCache
from newsletter.publishing.render import long_date
from newsletter.web import api, docs, errors, pages, security, static
from newsletter.web import preview as preview_routes
from newsletter.web.deps import Services, services_of


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Close the backend on shutdown (SendGrid's build processes, for one)."""
    try:
        yield
    finally:
        services_of(app).backend.close()


def create_app(
    settings: Settings | None = None,
    engine: Engine | None = None,
    *,
    preview: bool = False,
    backend: Backend | None = None,
) -> FastAPI:
    """`preview=True` adds the editor's /preview pages: for a local server, not the public
    one. `backend` defaults to the configured provider; the app closes it when it stops."""
    settings = settings or get_settings()
    app = FastAPI(
        title="Weekly AI Tool Verdicts",
        summary="Public pages for subscribers and the admin API for operators.",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # served by `docs`, under a policy of its own
        redoc_url=None,
    )
    engine = engine or get_engine(settings.database_url)
    templates = Jinja2Templates(directory=settings.templates_dir / "web")
    templates.env.filters["longdate"] = long_date
    app.state.services = Services(
        settings=settings,
        engine=engine,
        templates=templates,
        signer=Signer(settings.secret()),
        backend=backend or make_backend(settings),
        preview=PreviewCache(engine, settings) if preview else None,
    )
    errors.install(app)
    security.install(app, settings, preview=preview)
    static.install(app, templates, settings)
    app.include_router(docs.router)
    app.include_router(pages.router)
    app.include_router(api.router)
    if preview:
        app.include_router(preview_routes.router)
    return app
