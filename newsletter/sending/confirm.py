"""The confirmation link of double opt-in: it turns a pending address active, and an
unsubscribed one that asked to come back (through the form) active again."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from newsletter.links.tokens import Purpose, Signer, TokenError
from subscribers.models import Status
from subscribers.service import confirm_subscription

CONFIRM_VALID_DAYS = 7
CONFIRM_MAX_AGE = CONFIRM_VALID_DAYS * 24 * 3600


def confirm_by_link(session: Session, signer: Signer, token: str) -> bool:
    """Follow a confirmation link: pending -> active, or unsubscribed -> active when the
    link was issued after the unsubscribe. True when the address is active now (a second
    click included); False when the link cannot make it so (bounced since, or a link older
    than the last opt-out, which must not revive it). TokenError for a bad link,
    ExpiredToken for one older than CONFIRM_VALID_DAYS, and TokenError too for an address
    erased since: the link no longer leads anywhere."""
    subscriber_id, issued = signer.verify(Purpose.CONFIRM, token, max_age=CONFIRM_MAX_AGE)
    try:
        issued_at = datetime.fromtimestamp(issued, UTC)
    except (OverflowError, OSError, ValueError):
        raise TokenError("malformed token") from None
    subscriber = confirm_subscription(session, subscriber_id, issued_at=issued_at)
    if subscriber is None:
        raise TokenError("invalid token")
    return subscriber.status == Status.ACTIVE
