"""The FastAPI application: `newsletter serve` runs it under uvicorn.

`create_app` builds everything the routes use from settings (see `deps.Services`),
registers the one error mapping (`errors`) and the routers, and owns the delivery backend
for the app's lifetime: the lifespan starts the sign-up dispatcher (the thread that sends
confirmation emails outside the request workers), and at shutdown stops it and the desk's
send thread (`sending.background`: its send pauses between batches, resumable), then closes
the backend. The providers' event webhooks are built once, first: a wrong key stops the app
at start, not at each event. Every answer carries the security headers, and the preview
answers only for loopback names (`security`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from newsletter.core.database import get_engine
from newsletter.core.settings import Settings, get_settings
from newsletter.delivery import Backend
from newsletter.delivery.events import EventWebhook
from newsletter.delivery.registry import WEBHOOKS, event_webhook, make_backend
from newsletter.links.tokens import Signer
from newsletter.publishing.preview import PreviewCache
from newsletter.publishing.render import long_date
from newsletter.sending.background import BackgroundSends
from newsletter.sending.signup_dispatcher import SignupDispatcher
from newsletter.sending.voting import ComparisonViews
from newsletter.web import admin, api, docs, errors, pages, ratelimit, security, static, webhooks
from newsletter.web import metrics as metrics_route
from newsletter.web import preview as preview_routes
from newsletter.web.admin.import_jobs import ImportJobs
from newsletter.web.deps import Services, services_of
from newsletter.web.health import router as health_router


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the sign-up dispatcher while the app serves; on shutdown stop it (after the
    email in hand, at most the provider's timeout), then close the backend (SendGrid's
    build processes, for one)."""
    services = services_of(app)
    dispatcher: SignupDispatcher = app.state.signup_dispatcher
    desk_sends: BackgroundSends = app.state.desk_sends
    dispatcher.start()
    try:
        yield
    finally:
        try:
            await to_thread.run_sync(app.state.imports.close)  # desk CSV imports
            await to_thread.run_sync(dispatcher.stop, services.settings.sendgrid_timeout)
            await to_thread.run_sync(desk_sends.stop, services.settings.sendgrid_timeout)
        finally:
            services.backend.close()


def configured_webhooks(settings: Settings) -> dict[str, EventWebhook]:
    """Every provider's event webhook that has a key. A key that is set but is not one
    raises SettingsError here, so the server stops at start rather than at each event."""
    found = {name: event_webhook(settings, name) for name in WEBHOOKS}
    return {name: webhook for name, webhook in found.items() if webhook is not None}


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
    hooks = configured_webhooks(settings)
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
        webhooks=hooks,
        comparisons=ComparisonViews(settings),
    )
    app.state.signup_dispatcher = SignupDispatcher(engine, settings, app.state.services.backend)
    app.state.desk_sends = BackgroundSends(engine, settings, app.state.services.backend)
    app.state.imports = ImportJobs(engine)
    ratelimit.install(app, settings)
    errors.install(app)
    security.install(app, settings, preview=preview)
    static.install(app, templates, settings)
    app.include_router(health_router)
    app.include_router(docs.router)
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(webhooks.router)
    metrics_route.install(app, settings)
    admin.install(app, settings, templates)
    if preview:
        app.include_router(preview_routes.router)
    return app
