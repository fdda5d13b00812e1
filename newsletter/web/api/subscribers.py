"""The subscriber list as a resource: page through it, add, read, change a status, forget
(GDPR erasure), import a CSV.

Errors go through the app's one handler (`newsletter.web.errors`); the codes that differ
from the kinds are this API's published contract and are declared per route with
`answers`.
"""

from __future__ import annotations

import io
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile, status
from sqlmodel import Session

from newsletter.core.errors import Conflict, InvalidInput, Refused
from newsletter.web.api.schemas import (
    BadRowOut,
    ImportOut,
    StatusUpdate,
    SubscriberCreate,
    SubscriberOut,
    SubscriberPage,
)
from newsletter.web.deps import AfterId, RowId, ServicesDep, SessionDep, WriteSessionDep
from newsletter.web.errors import answers
from newsletter.web.params import NoControls
from subscribers.errors import SubscriberNotFound
from subscribers.importer import import_csv
from subscribers.models import Source, Status, Subscriber
from subscribers.service import (
    add_subscriber,
    count_subscribers,
    forget,
    get_subscriber,
    list_subscribers,
    set_status,
)

router = APIRouter(prefix="/subscribers")


def _existing(session: Session, subscriber_id: int) -> Subscriber:
    row = get_subscriber(session, subscriber_id)
    if row is None:
        raise SubscriberNotFound(f"no subscriber with id {subscriber_id}")
    return row


@router.get("")
def subscribers_list(
    session: SessionDep,
    status_filter: Annotated[Status | None, Query(alias="status")] = None,
    search: Annotated[str | None, Query(max_length=200), NoControls] = None,
    after_id: AfterId = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> SubscriberPage:
    """Subscribers by id, in keyset pages (pass `next_after_id` back as `after_id`)."""
    rows = list_subscribers(
        session, status=status_filter, search=search, after_id=after_id, limit=limit
    )
    return SubscriberPage(
        items=[SubscriberOut.of(r) for r in rows],
        total=count_subscribers(session, status=status_filter, search=search),
        next_after_id=rows[-1].id if len(rows) == limit else None,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
@answers({Conflict: 422, Refused: 422})
def subscribers_create(session: WriteSessionDep, body: SubscriberCreate) -> SubscriberOut:
    """An address already on the list, or one that was forgotten, is a 422."""
    row = add_subscriber(
        session, body.email, name=body.name, source=Source.API, confirmed=body.confirmed
    )
    session.flush()
    return SubscriberOut.of(row)


@router.get("/{subscriber_id}")
def subscribers_get(session: SessionDep, subscriber_id: RowId) -> SubscriberOut:
    return SubscriberOut.of(_existing(session, subscriber_id))


@router.patch("/{subscriber_id}")
@answers({InvalidInput: 409, Refused: 409})
def subscribers_update(
    session: WriteSessionDep, subscriber_id: RowId, body: StatusUpdate
) -> SubscriberOut:
    """Change a status on purpose (the reason is recorded); a change the list refuses is
    a 409."""
    _existing(session, subscriber_id)
    row = set_status(session, subscriber_id, body.status, reason=body.reason, source=Source.API)
    session.flush()
    return SubscriberOut.of(row)


@router.delete("/{subscriber_id}", status_code=status.HTTP_204_NO_CONTENT)
def subscribers_forget(session: WriteSessionDep, subscriber_id: RowId) -> None:
    """GDPR erasure: the row and everything personal go; a hashed tombstone stays."""
    forget(session, _existing(session, subscriber_id).email)


@router.post("/import")
def subscribers_import(
    services: ServicesDep,
    file: Annotated[UploadFile, File(description="CSV with a header row and an email column")],
    confirmed: Annotated[bool, Query()] = False,
) -> ImportOut:
    """The same import as `newsletter subscribers import`, with the same report. It commits
    in batches of its own, so it takes the engine rather than one write session."""
    report = import_csv(
        services.engine,
        io.TextIOWrapper(file.file, encoding="utf-8", newline=""),
        confirmed=confirmed,
        source=Source.API,
        label=file.filename or "upload",
    )
    return ImportOut(
        rows=report.rows,
        imported=report.imported,
        unchanged=report.unchanged,
        bad=report.bad,
        bad_rows=[BadRowOut(line=b.line, email=b.email, reason=b.reason) for b in report.bad_rows],
        warnings=list(report.warnings),
    )
