"""What routes get injected, as typed dependencies: the app's services, a read session, a
write session, the page presenter, the admin check, and the bounds of a row id.

A route names what it needs in its signature (`session: SessionDep`) and nothing else:
the app is built from settings (`create_app`), never from globals, so tests build as many
apps as they like.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Final

from anyio import CancelScope, CapacityLimiter, to_thread
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.core.database import end_session, new_session
from newsletter.core.settings import Settings
from newsletter.delivery import Backend
from newsletter.delivery.events import EventWebhook
from newsletter.links.tokens import Signer
from newsletter.publishing.preview import PreviewCache
from newsletter.sending.voting import ComparisonViews
from newsletter.web.presenter import Pages


@dataclass
class Services:
    """Made once per app by `create_app`; the lifespan closes the backend."""

    settings: Settings
    engine: Engine
    templates: Jinja2Templates
    signer: Signer
    backend: Backend
    comparisons: ComparisonViews
    """The vote pages' comparisons, kept per process."""
    preview: PreviewCache | None = None
    webhooks: Mapping[str, EventWebhook] = field(default_factory=dict)
    """The configured event webhooks by provider name; a provider missing has no key."""


def services_of(app: FastAPI) -> Services:
    found: Services = app.state.services
    return found


def get_services(request: Request) -> Services:
    return services_of(request.app)


async def _services(request: Request) -> Services:
    return get_services(request)


ServicesDep = Annotated[Services, Depends(_services)]
"""The dependencies that do no I/O are coroutines, so FastAPI calls them on the event loop
instead of handing each to a worker thread and back (a trip each, on every request)."""


async def _end(session: Session, *, commit: bool) -> None:
    """End a request's session: one trip to a worker thread if it began a transaction (the
    commit or rollback talks to the database), none if it never did.

    The trip is outside the threads the routes share (a limiter of its own, as FastAPI
    does for its own dependencies' exits): were every shared thread taken by a route waiting
    for a pooled connection, a session waiting for a thread to commit and give its
    connection back would wait for ever. Nothing else caps these threads: only a session
    holding a pooled connection makes the trip, so the pool (16 + 8) bounds them.
    Shielded: a client that goes away mid-commit does not leave the session half-ended."""
    if not session.in_transaction():
        session.close()
        return
    with CancelScope(shield=True):
        await to_thread.run_sync(
            partial(end_session, session, commit=commit), limiter=CapacityLimiter(1)
        )


@asynccontextmanager
async def _transaction(services: Services, *, immediate: bool) -> AsyncIterator[Session]:
    session = new_session(services.engine, immediate=immediate)  # no connection yet
    try:
        yield session
    except BaseException:
        await _end(session, commit=False)
        raise
    await _end(session, commit=True)


async def read_session(services: ServicesDep) -> AsyncIterator[Session]:
    """For reading: a plain transaction per request."""
    async with _transaction(services, immediate=False) as db:
        yield db


async def write_session(services: ServicesDep) -> AsyncIterator[Session]:
    """For writing: SQLite's write lock is taken at BEGIN, so read-then-write never fails
    half-way on a lock upgrade, and the transaction is committed (or rolled back, on any
    error) when the route returns. The dependency's scope is "function": the commit comes
    before the answer leaves, so a reader who clicks twice fast sees the first click's
    write."""
    async with _transaction(services, immediate=True) as db:
        yield db


SessionDep = Annotated[Session, Depends(read_session)]
WriteSessionDep = Annotated[Session, Depends(write_session, scope="function")]


async def pages(services: ServicesDep, request: Request) -> Pages:
    return Pages(services.templates, services.settings, request)


PagesDep = Annotated[Pages, Depends(pages)]

bearer = HTTPBearer(auto_error=False, description="NEWSLETTER_ADMIN_TOKEN")


def require_admin(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """The admin API's guard: `Authorization: Bearer <NEWSLETTER_ADMIN_TOKEN>`. Without a
    configured token the API answers 503 rather than run open."""
    expected = services.settings.admin_token
    if not expected:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the admin API is off: set NEWSLETTER_ADMIN_TOKEN to turn it on",
        )
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


AdminDep = Depends(require_admin)
"""For a router's `dependencies=[AdminDep]`: every route under it needs the token."""

ROW_ID_MAX: Final = 2**31 - 1
"""The largest id an INTEGER primary key holds on PostgreSQL (SQLite's go to 2**63 - 1).
A number past it, or below 1, names no row on either database, but reaching the database it
is an error (PostgreSQL: "integer out of range"; SQLite: an OverflowError past 2**63 - 1)
rather than a miss, so every integer a route takes is bounded at the edge: a clear 422 that
names the parameter, never a 500. (`tests/newsletter/web/test_numbers.py` checks every
route's integers.)"""

RowId = Annotated[int, Path(ge=1, le=ROW_ID_MAX)]
"""A row's id in a path (`/api/subscribers/{subscriber_id}`)."""

AfterId = Annotated[int, Query(ge=0, le=ROW_ID_MAX)]
"""A keyset cursor: the last id of the page before (0 for the first page)."""
