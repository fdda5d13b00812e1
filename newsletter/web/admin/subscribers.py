"""The list on the desk: search, filter and page through subscribers (any role reads), and
export the list or one status as a CSV download (admins; audited).

The queries each page runs are in `subscribers.browse` (keyset pages by id or address,
a bounded substring scan, one indexed COUNT per status); an export streams pages of a
thousand rows by id (`subscribers.export.export_chunks`).
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import HTMLResponse, StreamingResponse

from newsletter.accounts.audit import Audited, record
from newsletter.accounts.roles import Action
from newsletter.accounts.sessions import Signed
from newsletter.core.clock import utcnow
from newsletter.core.errors import InvalidInput
from newsletter.web.admin.auth import Reader, actor, may
from newsletter.web.admin.presenter import DeskPagesDep
from newsletter.web.deps import ROW_ID_MAX, ServicesDep, SessionDep, WriteSessionDep
from newsletter.web.params import NoControls
from subscribers.browse import SCAN_WINDOW, SEARCH_MAX, Match, browse, status_counts
from subscribers.browse import Query as Browse
from subscribers.export import export_chunks
from subscribers.models import Status

router = APIRouter(default_response_class=HTMLResponse)

LIST: Final = "/admin/subscribers"
STATUSES: Final = [status.value for status in Status]


def status_of(text: str) -> Status | None:
    """A status chosen in a form or a link: '' is every status."""
    if not text:
        return None
    try:
        return Status(text)
    except ValueError:
        raise InvalidInput(f"status: one of {', '.join(STATUSES)}, or empty for all") from None


@router.get(LIST)
def subscribers_page(
    who: Reader,
    pages: DeskPagesDep,
    session: SessionDep,
    q: Annotated[str, Query(max_length=SEARCH_MAX), NoControls] = "",
    match: Match = Match.PREFIX,
    status: Annotated[str, Query(max_length=20), NoControls] = "",
    before: Annotated[int | None, Query(ge=1, le=ROW_ID_MAX)] = None,
    after: Annotated[str | None, Query(max_length=SEARCH_MAX), NoControls] = None,
) -> HTMLResponse:
    chosen = status_of(status)
    query = Browse(text=q, match=match, status=chosen, before=before, after=after)
    return pages.render(
        "subscribers.html",
        page=browse(session, query),
        counts=status_counts(session),
        q=q.strip(),
        match=match.value,
        status=status,
        statuses=STATUSES,
        window=SCAN_WINDOW,
    )


@router.post(f"{LIST}/export")
def export(
    services: ServicesDep,
    session: WriteSessionDep,
    who: Annotated[Signed, Depends(may(Action.SUBSCRIBER_EXPORT))],
    status: Annotated[str, Form(max_length=20), NoControls] = "",
) -> StreamingResponse:
    """The CSV streams after the route returns (the audit entry is committed first), from a
    connection of its own, a thousand rows at a time."""
    chosen = status_of(status)
    what = chosen.value if chosen else "all"
    record(session, actor(who), Audited.SUBSCRIBER_EXPORT, f"status: {what}", "CSV download")
    name = f"subscribers-{what}-{utcnow():%Y-%m-%d}.csv"
    return StreamingResponse(
        export_chunks(services.engine, status=chosen),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
