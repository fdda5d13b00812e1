"""The operators' HTTP API under /api/. Every route needs `Authorization: Bearer <token>`;
without a configured NEWSLETTER_ADMIN_TOKEN the API answers 503 rather than run open."""

from __future__ import annotations

import hmac
import io
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from newsletter.web.deps import ServicesDep, SessionDep
from subscribers.errors import SubscriberError
from subscribers.importer import import_csv
from subscribers.models import Source, Status, Subscriber
from subscribers.service import (
    add_subscriber,
    count_subscribers,
    forget,
    get_subscriber,
    list_stats,
    list_subscribers,
    set_status,
)

bearer = HTTPBearer(auto_error=False, description="NEWSLETTER_ADMIN_TOKEN")


def require_admin(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
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


router = APIRouter(prefix="/api", tags=["admin"], dependencies=[Depends(require_admin)])


class SubscriberOut(BaseModel):
    id: int
    email: str
    name: str | None
    status: Status
    status_reason: str | None
    source: str
    created_at: datetime
    status_changed_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None

    @classmethod
    def of(cls, row: Subscriber) -> SubscriberOut:
        return cls.model_validate(row, from_attributes=True)


class SubscriberPage(BaseModel):
    items: list[SubscriberOut]
    total: int = Field(description="How many match the filters, over all pages.")
    next_after_id: int | None = Field(
        description="Pass as `after_id` for the next page; null on the last page."
    )


class SubscriberCreate(BaseModel):
    email: str = Field(max_length=320, examples=["ada@example.com"])
    name: str | None = Field(default=None, max_length=200)
    confirmed: bool = Field(
        default=False, description="Active at once (consent collected elsewhere)."
    )


class StatusUpdate(BaseModel):
    status: Status
    reason: str = Field(min_length=1, max_length=500, description="Why; kept in the history.")


class BadRowOut(BaseModel):
    line: int
    email: str
    reason: str


class ImportOut(BaseModel):
    rows: int
    imported: int
    unchanged: int
    bad: int
    bad_rows: list[BadRowOut]
    warnings: list[str]


class WeekGrowth(BaseModel):
    week: str
    new: int
    confirmed: int
    unsubscribed: int


class StatsOut(BaseModel):
    total: int
    by_status: dict[str, int]
    growth: list[WeekGrowth]


def _not_found(subscriber_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no subscriber with id {subscriber_id}")


@router.get("/subscribers")
def subscribers_list(
    session: SessionDep,
    status_filter: Annotated[Status | None, Query(alias="status")] = None,
    search: Annotated[str | None, Query(max_length=200)] = None,
    after_id: Annotated[int, Query(ge=0)] = 0,
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


@router.post("/subscribers", status_code=status.HTTP_201_CREATED)
def subscribers_create(services: ServicesDep, body: SubscriberCreate) -> SubscriberOut:
    try:
        with services.write() as session:
            row = add_subscriber(
                session, body.email, name=body.name, source=Source.API, confirmed=body.confirmed
            )
            session.flush()
            return SubscriberOut.of(row)
    except SubscriberError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


@router.get("/subscribers/{subscriber_id}")
def subscribers_get(session: SessionDep, subscriber_id: int) -> SubscriberOut:
    row = get_subscriber(session, subscriber_id)
    if row is None:
        raise _not_found(subscriber_id)
    return SubscriberOut.of(row)


@router.patch("/subscribers/{subscriber_id}")
def subscribers_update(
    services: ServicesDep, subscriber_id: int, body: StatusUpdate
) -> SubscriberOut:
    """Change a status on purpose (the reason is recorded)."""
    try:
        with services.write() as session:
            if get_subscriber(session, subscriber_id) is None:
                raise _not_found(subscriber_id)
            row = set_status(
                session, subscriber_id, body.status, reason=body.reason, source=Source.API
            )
            session.flush()
            return SubscriberOut.of(row)
    except SubscriberError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


@router.delete("/subscribers/{subscriber_id}", status_code=status.HTTP_204_NO_CONTENT)
def subscribers_forget(services: ServicesDep, subscriber_id: int) -> None:
    """GDPR erasure: the row and everything personal go; a hashed tombstone stays."""
    with services.write() as session:
        row = get_subscriber(session, subscriber_id)
        if row is None:
            raise _not_found(subscriber_id)
        forget(session, row.email)


@router.post("/subscribers/import")
def subscribers_import(
    services: ServicesDep,
    request: Request,
    file: Annotated[UploadFile, File(description="CSV with a header row and an email column")],
    confirmed: Annotated[bool, Query()] = False,
) -> ImportOut:
    """The same import as `newsletter subscribers import`, with the same report."""
    stream = io.TextIOWrapper(file.file, encoding="utf-8", newline="")
    try:
        report = import_csv(
            services.engine,
            stream,
            confirmed=confirmed,
            source=Source.API,
            label=file.filename or "upload",
        )
    except (SubscriberError, UnicodeDecodeError) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return ImportOut(
        rows=report.rows,
        imported=report.imported,
        unchanged=report.unchanged,
        bad=report.bad,
        bad_rows=[BadRowOut(line=b.line, email=b.email, reason=b.reason) for b in report.bad_rows],
        warnings=list(report.warnings),
    )


@router.get("/stats")
def stats(session: SessionDep) -> StatsOut:
    result = list_stats(session)
    return StatsOut(
        total=sum(result.by_status.values()),
        by_status={str(k): v for k, v in result.by_status.items()},
        growth=[
            WeekGrowth(week=g.week, new=g.new, confirmed=g.confirmed, unsubscribed=g.unsubscribed)
            for g in result.growth
        ],
    )
