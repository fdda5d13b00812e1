"""`GET /metrics`: the Prometheus scrape, behind the admin token.

Only when `NEWSLETTER_METRICS_PORT` is unset: with it, `newsletter serve` answers scrapes on
that port of its own (no token) and the app has no `/metrics` at all, so the figures are
never on the public port. The text is the same either way (`core.metrics.scrape`): the
per-process counters of every worker, then the ledger read from the database.
"""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter, FastAPI, Response

from newsletter.analytics.ledger_metrics import LedgerCollector
from newsletter.core.metrics import CONTENT_TYPE, scrape
from newsletter.core.settings import Settings
from newsletter.web.deps import AdminDep, ServicesDep

PATH = "/metrics"

router = APIRouter(tags=["operations"], dependencies=[AdminDep])


@router.get(PATH, summary="Prometheus metrics (admin token)", response_class=Response)
async def prometheus_metrics(services: ServicesDep) -> Response:
    """Reads files and the database: in a worker thread, off the event loop."""
    collector = LedgerCollector(services.engine)
    body = await to_thread.run_sync(scrape, services.settings.metrics_dir, collector)
    return Response(body, media_type=CONTENT_TYPE)


def install(app: FastAPI, settings: Settings) -> None:
    """The route, unless the metrics have a port of their own."""
    if settings.metrics_port is None:
        app.include_router(router)
