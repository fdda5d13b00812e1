"""The sign-up queue: the form writes one row and answers; a dispatcher drains the rows
outside the request workers (`newsletter.sending.signup_dispatcher`).

Why a table and not a thread pool: the answer to the form does the same single INSERT for
every address (new, active, suppressed, forgotten), so neither the page nor its timing can
tell them apart; a slow email provider holds up the dispatcher, never a request worker;
and a crash loses nothing, as the rows stay until they are handled.

Each row is handled in a write transaction of its own: `request_subscription` (which
decides whether a confirmation is due) and the row's deletion commit together, then the
confirmation is sent. A send that fails (the provider down, a template error) puts the
request back in the queue, due again after a growing pause (one minute, doubling, at most
an hour, SEND_ATTEMPTS times in all: about four hours of outage), with the address's
`confirmation_sent_at` cleared so the next try sends. Several processes may drain at once:
PostgreSQL hands each row to one of them (`FOR UPDATE SKIP LOCKED`), SQLite's write lock
(`BEGIN IMMEDIATE`) makes them take turns. A crash between that commit and the send loses
that one email; the address stays pending, and the form sends it again when posted ten
minutes later.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Engine, ForeignKey, Integer, func, or_
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Field, Session, SQLModel, col, select

from newsletter.core.clock import utcnow
from newsletter.core.database import session_scope
from newsletter.core.errors import InvalidInput, Refused
from newsletter.core.settings import Settings
from newsletter.delivery import Backend
from newsletter.sending.signup import Confirmation, send_confirmation, sign_up
from subscribers.addresses import EMAIL_MAX, NAME_MAX, form_name, normalize_email
from subscribers.models import Status, Subscriber
from subscribers.service import confirmation_due

WAITING = frozenset({Status.PENDING, Status.UNSUBSCRIBED})
"""The statuses a confirmation is sent to: pending, and unsubscribed asking back."""

log = logging.getLogger(__name__)

IP_MAX = 45  # the longest IPv6 text form, as subscriber.consent_ip
MAX_ATTEMPTS = 3
"""A row whose handling fails this often for a reason other than the database being
unreachable or busy is dropped (and logged): it would fail for ever and hold up the rest."""
SEND_ATTEMPTS = 8
"""Tries of one confirmation email before it is given up (logged); see RETRY_PAUSE."""
RETRY_PAUSE = timedelta(minutes=1)
RETRY_PAUSE_MAX = timedelta(hours=1)


class SignupRequest(SQLModel, table=True):
    """One post of the form, waiting for the dispatcher. Its values are clean already: the
    address normalised, the name cleaned (`form_name`), the client address cut to size."""

    __tablename__ = "signup_request"
    __table_args__ = {"sqlite_autoincrement": True}
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=EMAIL_MAX)
    name: str | None = Field(default=None, max_length=NAME_MAX)
    ip: str | None = Field(default=None, max_length=IP_MAX)
    created_at: datetime = Field(default_factory=utcnow)
    attempts: int = 0
    not_before: datetime | None = None  # a failed send's next try; None: at once
    subscriber_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("subscriber.id", ondelete="CASCADE"), nullable=True),
    )
    """Set: a confirmation to send again to this record (gone with it if it is erased)."""


class SignupQueueFull(Refused):
    """More sign-up requests are waiting than `NEWSLETTER_SIGNUP_QUEUE_MAX`."""


TRANSIENT = (OperationalError, InterfaceError, PoolTimeout)
"""The database is unreachable, restarting or busy: the row stays, the dispatcher waits."""


def is_transient(error: BaseException) -> bool:
    if isinstance(error, TRANSIENT):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def queue_signup(
    session: Session,
    email: str,
    *,
    name: str | None,
    ip: str | None,
    max_queued: int,
    now: datetime | None = None,
) -> None:
    """The form's whole write: check the address's syntax (InvalidAddress, with the reason,
    for text that is not one), then queue one row. Never reads the subscriber list, so the
    work is the same whoever the address belongs to. SignupQueueFull when `max_queued`
    requests are waiting already."""
    address = normalize_email(email)
    if queued(session, up_to=max_queued) >= max_queued:
        raise SignupQueueFull(f"{max_queued} sign-up requests are waiting already")
    client = (ip.strip()[:IP_MAX] or None) if ip else None
    session.add(
        SignupRequest(email=address, name=form_name(name), ip=client, created_at=now or utcnow())
    )


def queued(session: Session, *, up_to: int | None = None, due: bool = False) -> int:
    """How many requests are waiting (`due`: to be handled now; counted up to `up_to` at
    most, so the form's check costs the same however long the queue grows)."""
    rows = select(col(SignupRequest.id))
    if due:
        rows = rows.where(_due())
    if up_to is not None:
        rows = rows.limit(up_to)
    return session.exec(select(func.count()).select_from(rows.subquery())).one()


def _due() -> Any:
    waits = col(SignupRequest.not_before)
    return or_(waits.is_(None), waits <= utcnow())


def _claim(session: Session) -> SignupRequest | None:
    """The oldest due request no other dispatcher holds (PostgreSQL: SKIP LOCKED; SQLite:
    the caller holds the write lock, so there is no other)."""
    query = (
        select(SignupRequest)
        .where(_due())
        .order_by(col(SignupRequest.id))
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return session.exec(query).first()


def _handle(session: Session, request: SignupRequest, at: datetime) -> Confirmation | None:
    """Subscribe (or not) as the form asked, or send again a confirmation that did not go,
    and take the request off the queue; the confirmation to send after the commit, if one
    is due (recorded as sent at `at`)."""
    if request.subscriber_id is not None:
        session.delete(request)
        return _resend(session, request.subscriber_id, request.email, at)
    try:
        with session.begin_nested():
            confirmation = sign_up(session, request.email, request.name, request.ip, now=at)
    except InvalidInput as exc:  # the address or name can never be stored
        log.warning("sign-up request %s dropped: %s", request.id, exc)
        confirmation = None
    except Exception as exc:
        if is_transient(exc):
            raise
        request.attempts += 1
        if request.attempts < MAX_ATTEMPTS:
            log.exception("sign-up request %s failed (attempt %s)", request.id, request.attempts)
            session.add(request)
            return None
        log.exception("sign-up request %s dropped after %s attempts", request.id, MAX_ATTEMPTS)
        confirmation = None
    session.delete(request)
    return confirmation


def _resend(session: Session, subscriber_id: int, email: str, at: datetime) -> Confirmation | None:
    """A confirmation queued again after a failed send: only to the same record, still
    waiting (pending, or unsubscribed and asking back), and only if none went out since
    (the ten-minute rule, decided now): an erased, confirmed or suppressed address, or one
    a later post already reached, gets nothing."""
    subscriber = session.get(Subscriber, subscriber_id, with_for_update=True)
    if (
        subscriber is None
        or subscriber.email != email
        or subscriber.status not in WAITING
        or not confirmation_due(subscriber, at)
    ):
        return None
    session.add(subscriber)
    return Confirmation(subscriber_id=subscriber_id, email=email)


@dataclass(frozen=True)
class _Handled:
    """What a failed send needs to queue the confirmation again."""

    attempts: int
    sent_at: datetime  # the `confirmation_sent_at` this attempt recorded


def handle_next(engine: Engine, settings: Settings, backend: Backend) -> bool:
    """Handle the oldest due request, if there is one; False when none is due."""
    at = utcnow()
    with session_scope(engine, immediate=True) as session:
        request = _claim(session)
        if request is None:
            return False
        handled = _Handled(request.attempts, at)
        confirmation = _handle(session, request, at)
    if confirmation is not None and not send_confirmation(confirmation, settings, backend):
        _send_failed(engine, confirmation, handled)
    return True


def _send_failed(engine: Engine, confirmation: Confirmation, handled: _Handled) -> None:
    """The email did not go: unless another confirmation went out since, the address is
    marked as never sent one and the confirmation waits in the queue for its next try. After
    SEND_ATTEMPTS the mark stays (the form sends again ten minutes later, and housekeeping
    expires a record nobody confirms)."""
    tries = handled.attempts + 1
    with session_scope(engine, immediate=True) as session:
        subscriber = session.get(Subscriber, confirmation.subscriber_id, with_for_update=True)
        if (
            subscriber is None
            or subscriber.status not in WAITING
            or subscriber.confirmation_sent_at != handled.sent_at
        ):
            return  # confirmed, erased or suppressed meanwhile, or another email went out
        if tries >= SEND_ATTEMPTS:
            log.error(
                "confirmation email to subscriber %s given up after %s tries",
                confirmation.subscriber_id,
                tries,
            )
            return
        subscriber.confirmation_sent_at = None
        session.add(subscriber)
        pause = min(RETRY_PAUSE * 2 ** (tries - 1), RETRY_PAUSE_MAX)
        session.add(
            SignupRequest(
                email=confirmation.email,
                subscriber_id=confirmation.subscriber_id,
                attempts=tries,
                not_before=utcnow() + pause,
            )
        )


def drain_signups(
    engine: Engine,
    settings: Settings,
    backend: Backend,
    *,
    stop: threading.Event | None = None,
) -> int:
    """Handle waiting requests until the queue is empty (or `stop` is set between two of
    them); how many were handled. The dispatcher calls this in a loop; tests call it to
    finish what the form queued. A look without the write lock comes first, so an idle
    dispatcher never holds up SQLite's writers."""
    with session_scope(engine) as session:
        if not queued(session, up_to=1, due=True):
            return 0
    handled = 0
    while not (stop is not None and stop.is_set()):
        if not handle_next(engine, settings, backend):
            break
        handled += 1
    return handled
