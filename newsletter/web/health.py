"""`GET /healthz` and `GET /readyz`: the probes of a load balancer, systemd or a monitor.

`/healthz` says the process is up and answering: it touches nothing, so a slow or absent
database never gets a live web process restarted. `/readyz` says whether this process can
do its work now: the database answers one trivial query (its schema revision) within
`READY_TIMEOUT` seconds, and that revision is the code's. Neither needs a token and
neither changes anything; the reason a probe fails is one line, with the database's own
error in the log rather than on a public page.
"""

from __future__ import annotations

import logging
from typing import Final

import anyio
from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from newsletter.core.database import schema_state
from newsletter.web.deps import ServicesDep

READY_TIMEOUT: Final = 2.0
"""Seconds the database has to answer a readiness probe."""

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


@router.api_route("/healthz", methods=["GET", "HEAD"])
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.api_route("/readyz", methods=["GET", "HEAD"])
async def readyz(request: Request, services: ServicesDep) -> JSONResponse:
    """200 when the database answers and its schema is the code's; else 503 and why."""
    problem = "database did not answer within the probe's timeout"
    with anyio.move_on_after(READY_TIMEOUT):
        # One probe at a time per process: a database that hangs holds one thread, not a
        # new one per probe; a probe waiting behind it times out like the one in flight.
        problem = await to_thread.run_sync(
            _schema_problem, services.engine, abandon_on_cancel=True, limiter=_limiter(request)
        )
    if problem:
        return JSONResponse({"status": "unavailable", "reason": problem}, status_code=503)
    return JSONResponse({"status": "ready"})


def _limiter(request: Request) -> anyio.CapacityLimiter:
    """The app's own limiter, made in its event loop on first use."""
    state = request.app.state
    limiter: anyio.CapacityLimiter | None = getattr(state, "readiness_limiter", None)
    if limiter is None:
        limiter = state.readiness_limiter = anyio.CapacityLimiter(1)
    return limiter


def _schema_problem(engine: Engine) -> str:
    """What stops this process from serving, in one line; empty when nothing does."""
    try:
        return schema_state(engine).problem() or ""
    except SQLAlchemyError as exc:
        log.warning("readiness: the database failed: %s", " ".join(str(exc).split()))
        return f"database does not answer ({type(exc).__name__})"
