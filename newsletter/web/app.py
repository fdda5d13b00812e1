"""The FastAPI application: `newsletter serve` runs it under uvicorn."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from newsletter.core.database import get_engine
from newsletter.core.settings import Settings, get_settings
from newsletter.delivery.registry import make_backend
from newsletter.links.tokens import Signer
from newsletter.publishing.preview import PreviewCache
from newsletter.web import admin, pages
from newsletter.web import preview as preview_routes
from newsletter.web.deps import Services


def create_app(
    settings: Settings | None = None, engine: Engine | None = None, *, preview: bool = False
) -> FastAPI:
    """`preview=True` adds the editor's /preview pages: for a local server, not the public one."""
    settings = settings or get_settings()
    app = FastAPI(
        title="Weekly AI Tool Verdicts",
        summary="Public pages for subscribers and the admin API for operators.",
        version="1",
    )
    templates = Jinja2Templates(directory=settings.templates_dir / "web")
    engine = engine or get_engine(settings.database_url)
    app.state.services = Services(
        settings=settings,
        engine=engine,
        templates=templates,
        signer=Signer(settings.secret()),
        backend=make_backend(settings),
        preview=PreviewCache(engine, settings) if preview else None,
    )
    app.include_router(pages.router)
    app.include_router(admin.router)
    if preview:
        app.include_router(preview_routes.router)
    return app
