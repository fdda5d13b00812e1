"""The confirmation link of double opt-in: it turns a pending address active."""

from __future__ import annotations

from sqlmodel import Session

from newsletter.links.tokens import Purpose, Signer, TokenError
from subscribers.models import Status
from subscribers.service import confirm_subscription

CONFIRM_VALID_DAYS = 7
CONFIRM_MAX_AGE = CONFIRM_VALID_DAYS * 24 * 3600


def confirm_by_link(session: Session, signer: Signer, token: str) -> bool:
    """Follow a confirmation link: pending -> active. True when the address is active now
    (a second click included); False when it is not waiting for confirmation (unsubscribed
    or bounced since), which an old link must not revive. TokenError for a bad link,
    ExpiredToken for one older than CONFIRM_VALID_DAYS, and TokenError too for an address
    erased since: the link no longer leads anywhere."""
    subscriber_id, _issued = signer.verify(Purpose.CONFIRM, token, max_age=CONFIRM_MAX_AGE)
    subscriber = confirm_subscription(session, subscriber_id)
    if subscriber is None:
        raise TokenError("invalid token")
    return subscriber.status == Status.ACTIVE
