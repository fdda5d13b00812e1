"""What routes get injected: settings, a session per request, templates, the signer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery import Backend
from newsletter.links.tokens import Signer
from newsletter.publishing.preview import PreviewCache


@dataclass
class Services:
    """Made once per app: the web app is built from settings, not from globals."""

    settings: Settings
    engine: Engine
    templates: Jinja2Templates
    signer: Signer
    backend: Backend
    preview: PreviewCache | None = None

    def write(self) -> AbstractContextManager[Session]:
        """A write transaction committed before the handler returns (so before the answer
        leaves), taking SQLite's write lock up front: read-then-write never deadlocks."""
        return session_scope(self.engine, immediate=True)


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def session(request: Request) -> Iterator[Session]:
    """For reading: a plain transaction per request."""
    with session_scope(services(request).engine) as db:
        yield db


ServicesDep = Annotated[Services, Depends(services)]
SessionDep = Annotated[Session, Depends(session)]
