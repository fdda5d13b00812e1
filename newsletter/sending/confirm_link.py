"""What opening a confirmation link shows, reading only.

Mail scanners fetch every link of an email, some in a real browser, and double opt-in
exists because a click proves a person: opening the link only asks, and the page's button
(a POST, `confirm.confirm_by_link`) confirms.
"""

from __future__ import annotations

from sqlmodel import Session

from newsletter.links.tokens import Purpose, Signer, TokenError
from newsletter.sending.confirm import CONFIRM_MAX_AGE
from subscribers.models import Status
from subscribers.service import get_subscriber


def confirm_link_status(session: Session, signer: Signer, token: str) -> Status:
    """The status of the address a confirmation link names, changing nothing. The same
    refusals as following it: TokenError for a bad link (or an address erased since),
    ExpiredToken for one too old."""
    subscriber_id, _issued = signer.verify(Purpose.CONFIRM, token, max_age=CONFIRM_MAX_AGE)
    subscriber = get_subscriber(session, subscriber_id)
    if subscriber is None:
        raise TokenError("invalid token")
    return Status(subscriber.status)
