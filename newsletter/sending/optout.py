"""What the unsubscribe link in every email does: show the address's state, unsubscribe
it (RFC 8058 one-click), or take it back.

The token is the only authority: it is verified before anything is read or written, and
a forged, damaged or wrong-purpose one raises `TokenError` with nothing changed. Opening
the link only reads (mail scanners follow links); the POSTs change. The sample
subscriber's link (the preview's, a test send's) shows the same pages and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from newsletter.core.errors import NotFound
from newsletter.links.personalize import is_sample
from newsletter.links.tokens import Purpose, Signer
from subscribers.models import Source, Status, Subscriber
from subscribers.service import get_subscriber, resubscribe, unsubscribe


class AddressGone(NotFound):
    """A genuine link for an address no longer held (erased since the email went out)."""


@dataclass(frozen=True)
class OptOut:
    """What the unsubscribe page shows: the address's status now, and whether the link is
    the sample subscriber's (then the status is what a subscriber would see, and nothing
    was changed)."""

    status: Status
    sample: bool = False


def _present(subscriber: Subscriber | None) -> OptOut:
    if subscriber is None:
        raise AddressGone("we no longer hold this address")
    return OptOut(Status(subscriber.status))


def status_by_link(session: Session, signer: Signer, token: str) -> OptOut:
    """The address's status, to show the right button; reading only (mail scanners follow
    links, so a GET must never unsubscribe)."""
    subscriber_id, _issue_id = signer.verify(Purpose.UNSUBSCRIBE, token)
    if is_sample(subscriber_id):
        return OptOut(Status.ACTIVE, sample=True)
    return _present(get_subscriber(session, subscriber_id))


def unsubscribe_by_link(session: Session, signer: Signer, token: str) -> OptOut:
    """Unsubscribe (idempotent); the reason names the issue the link came from."""
    subscriber_id, issue_id = signer.verify(Purpose.UNSUBSCRIBE, token)
    if is_sample(subscriber_id):
        return OptOut(Status.UNSUBSCRIBED, sample=True)
    reason = f"one-click unsubscribe from issue id {issue_id}" if issue_id else "unsubscribe link"
    return _present(unsubscribe(session, subscriber_id, reason=reason, source=Source.FORM))


def resubscribe_by_link(session: Session, signer: Signer, token: str) -> OptOut:
    """The unsubscribe page's "changed my mind": the same token takes the address back."""
    subscriber_id, _issue_id = signer.verify(Purpose.UNSUBSCRIBE, token)
    if is_sample(subscriber_id):
        return OptOut(Status.ACTIVE, sample=True)
    return _present(resubscribe(session, subscriber_id, source=Source.FORM))
