"""The confirmation link of double opt-in: it turns a pending address active, and an
unsubscribed one that asked to come back (through the form) active again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session

from newsletter.links.tokens import Purpose, Signer, TokenError
from subscribers.models import Status
from subscribers.service import confirm_subscription, get_subscriber

CONFIRM_VALID_DAYS = 7
CONFIRM_MAX_AGE = CONFIRM_VALID_DAYS * 24 * 3600


def _verified(signer: Signer, token: str) -> tuple[int, datetime]:
    """The subscriber id and issue time of a genuine, unexpired confirmation link."""
    subscriber_id, issued = signer.verify(Purpose.CONFIRM, token, max_age=CONFIRM_MAX_AGE)
    try:
        return subscriber_id, datetime.fromtimestamp(issued, UTC)
    except (OverflowError, OSError, ValueError):
        raise TokenError("malformed token") from None


@dataclass(frozen=True)
class ConfirmLink:
    """What the confirmation page shows: the address's status, and the name it would keep
    (the person sees it, and may change it, before the button)."""

    status: Status
    name: str | None


def confirm_link_status(session: Session, signer: Signer, token: str) -> ConfirmLink:
    """What opening a confirmation link shows, changing nothing (mail scanners fetch every
    link, some in a real browser; the page's button, a POST, confirms). The same refusals
    as following it: TokenError for a bad link or an address erased since, ExpiredToken for
    one too old."""
    subscriber_id, _issued_at = _verified(signer, token)
    subscriber = get_subscriber(session, subscriber_id)
    if subscriber is None:
        raise TokenError("invalid token")
    return ConfirmLink(Status(subscriber.status), subscriber.name)


def confirm_by_link(
    session: Session,
    signer: Signer,
    token: str,
    *,
    name: str | None = None,
    rename: bool = False,
    ip: str | None = None,
) -> bool:
    """Follow a confirmation link: pending -> active, or unsubscribed -> active when the
    link was issued after the unsubscribe. True when the address is active now (a second
    click included); False when the link cannot make it so (bounced since, or a link older
    than the last opt-out, which must not revive it). TokenError for a bad link,
    ExpiredToken for one older than CONFIRM_VALID_DAYS, and TokenError too for an address
    erased since: the link no longer leads anywhere."""
    subscriber_id, issued_at = _verified(signer, token)
    subscriber = confirm_subscription(
        session, subscriber_id, issued_at=issued_at, name=name, rename=rename, ip=ip
    )
    if subscriber is None:
        raise TokenError("invalid token")
    return subscriber.status == Status.ACTIVE
