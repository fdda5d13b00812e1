"""`GET /healthz` and `GET /readyz`: the probes of a load balancer, systemd or a monitor.

`/healthz` says the process is up and answering: it touches nothing, so a slow or absent
database never gets a live web process restarted. `/readyz` says whether this process can
do its work now: the database answers one trivial query (its schema revision) within
`READY_TIMEOUT` seconds, and that revision is the code's. Neither needs a token and
neither changes anything; the reason a probe fails is one line, with the database's own
error in the log rather than on a public page.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future
from typing import Final

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
    """200 when the database answers and its schema is the code's (or newer: a deploy's
    migration ran and this process is about to be restarted); else 503 and why."""
    probe = _probe(request, services.engine)
    try:
        problem = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(probe)), READY_TIMEOUT)
    except TimeoutError:
        problem = "database did not answer within the probe's timeout"
    if problem:
        return JSONResponse({"status": "unavailable", "reason": problem}, status_code=503)
    return JSONResponse({"status": "ready"})


_probing = threading.Lock()


def _probe(request: Request, engine: Engine) -> Future[str]:
    """The probe in flight, or a new one: a database that hangs holds one thread per
    process, however many probes arrive meanwhile (each waits on the same answer and times
    out on its own)."""
    state = request.app.state
    with _probing:
        running: Future[str] | None = getattr(state, "readiness_probe", None)
        if running is None or running.done():
            running = state.readiness_probe = Future()
            threading.Thread(  # a daemon: a hung database never holds up the process's exit
                target=_answer, args=(running, engine), name="readyz", daemon=True
            ).start()
    return running


def _answer(future: Future[str], engine: Engine) -> None:
    try:
        future.set_result(_schema_problem(engine))
    except BaseException as exc:  # the probe's own failure is its answer
        future.set_exception(exc)


def _schema_problem(engine: Engine) -> str:
    """What stops this process from serving, in one line; empty when nothing does."""
    try:
        state = schema_state(engine)
        # Newer than the code: the deploy's migration ran (migrations only add while old
        # processes run, docs/deploy.md) and the restart is coming; taking every old web
        # process out of rotation meanwhile would leave none to answer.
        return "" if state.ahead else state.problem() or ""
    except SQLAlchemyError as exc:
        log.warning("readiness: the database failed: %s", " ".join(str(exc).split()))
        return f"database does not answer ({type(exc).__name__})"
