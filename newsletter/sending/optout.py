"""What the unsubscribe link in every email does: show the address's state, unsubscribe
it (RFC 8058 one-click), or take it back.

The token is the only authority: it is verified before anything is read or written, and
a forged, damaged or wrong-purpose one raises `TokenError` with nothing changed. Opening
the link only reads (mail scanners follow links); the POSTs change. The sample
subscriber's link (the preview's, a test send's) shows the same pages and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from sqlmodel import Session

from newsletter.core.clock import utcnow
from newsletter.core.errors import NotFound
from newsletter.links.personalize import is_sample
from newsletter.links.tokens import Purpose, Signer
from subscribers.models import Source, Status, Subscriber
from subscribers.service import get_subscriber, resubscribe, unsubscribe_outcome

RESUBSCRIBE_WINDOW = timedelta(days=7)
"""How long an unsubscribe link can take back the unsubscribe it made ("changed my mind")."""


class AddressGone(NotFound):
    """A genuine link for an address no longer held (erased since the email went out)."""


@dataclass(frozen=True)
class OptOut:
    """What the unsubscribe page shows: the address's status now, and whether the link is
    the sample subscriber's (then the status is what a subscriber would see, and nothing
    was changed)."""

    status: Status
    sample: bool = False
    can_undo: bool = False  # this link may take the address back (`resubscribe_by_link`)
    changed: bool = False  # this request moved the address (what the metrics count)


def _reason(issue_id: int) -> str:
    return f"one-click unsubscribe from issue id {issue_id}" if issue_id else "unsubscribe link"


def _undoable(subscriber: Subscriber, issue_id: int) -> bool:
    """An unsubscribe link takes back only the unsubscribe it made, within
    RESUBSCRIBE_WINDOW: an old or forwarded email must not undo an opt-out made since, by
    another link, by the person asking an operator, or weeks ago. Otherwise the way back is
    the form's double opt-in."""
    unsubscribed_at = subscriber.unsubscribed_at
    return (
        subscriber.status == Status.UNSUBSCRIBED
        and subscriber.status_reason == _reason(issue_id)
        and unsubscribed_at is not None
        and utcnow() - unsubscribed_at <= RESUBSCRIBE_WINDOW
    )


def _present(subscriber: Subscriber | None, issue_id: int) -> OptOut:
    if subscriber is None:
        raise AddressGone("we no longer hold this address")
    return OptOut(Status(subscriber.status), can_undo=_undoable(subscriber, issue_id))


def status_by_link(session: Session, signer: Signer, token: str) -> OptOut:
    """The address's status, to show the right button; reading only (mail scanners follow
    links, so a GET must never unsubscribe)."""
    subscriber_id, issue_id = signer.verify(Purpose.UNSUBSCRIBE, token)
    if is_sample(subscriber_id):
        return OptOut(Status.ACTIVE, sample=True)
    return _present(get_subscriber(session, subscriber_id), issue_id)


def unsubscribe_by_link(session: Session, signer: Signer, token: str) -> OptOut:
    """Unsubscribe (idempotent); the reason names the issue the link came from."""
    subscriber_id, issue_id = signer.verify(Purpose.UNSUBSCRIBE, token)
    if is_sample(subscriber_id):
        return OptOut(Status.UNSUBSCRIBED, sample=True, can_undo=True)
    done = unsubscribe_outcome(session, subscriber_id, reason=_reason(issue_id), source=Source.FORM)
    return replace(_present(done.subscriber, issue_id), changed=done.changed)


def resubscribe_by_link(session: Session, signer: Signer, token: str) -> OptOut:
    """The unsubscribe page's "changed my mind": the link takes back the unsubscribe it
    made (`_undoable`); any other opt-out stands, and nothing changes."""
    subscriber_id, issue_id = signer.verify(Purpose.UNSUBSCRIBE, token)
    if is_sample(subscriber_id):
        return OptOut(Status.ACTIVE, sample=True, can_undo=True)
    subscriber = get_subscriber(session, subscriber_id, lock=True)
    if subscriber is not None and _undoable(subscriber, issue_id):
        subscriber = resubscribe(session, subscriber_id, source=Source.FORM)
    return _present(subscriber, issue_id)
