"""The public form's side of the list: sign-up with double opt-in and the confirmation
email (the link it carries is `newsletter.sending.confirm`).

The form only queues a request (`newsletter.sending.signup_queue`); `sign_up` runs when the
dispatcher takes it off the queue. The confirmation email carries nothing a visitor typed
but the address itself: no name in `To:` and none in the text, so the form cannot be used
to deliver someone else's words to any inbox."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment
from sqlmodel import Session

from newsletter.core.settings import Settings
from newsletter.delivery import Backend, Message, Recipient
from newsletter.links.tokens import Signer
from newsletter.links.urls import SiteUrls
from newsletter.publishing.render import EMAIL_TEMPLATES, compile_mjml, environment
from newsletter.sending.confirm import CONFIRM_VALID_DAYS
from newsletter.sending.message import action_urls
from subscribers.addresses import normalize_email
from subscribers.service import request_subscription

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Confirmation:
    """A confirmation email to send: to the address alone, under no name."""

    subscriber_id: int
    email: str


@lru_cache(maxsize=4)
def _templates(folder: Path) -> Environment:
    """One environment per folder: Jinja keeps each template compiled and compiles it again
    only when its file changes; a fresh environment per email compiled three templates for
    every confirmation, most of the dispatcher's time."""
    return environment(folder)


def confirmation_message(settings: Settings, confirm_url: str) -> Message:
    """The double opt-in email. Never tracked, whatever NEWSLETTER_TRACKING says: it is
    transactional (nobody subscribed yet, so nobody agreed to be tracked), and its one link
    must reach the site as it is, not through a click-tracking redirect; the link is marked
    besides (`action_urls`)."""
    env = _templates(settings.templates_dir / EMAIL_TEMPLATES)
    subject = f"Confirm your subscription to {settings.from_name}"
    values = {
        "subject": subject,
        "confirm_url": confirm_url,
        "from_name": settings.from_name,
        "postal_address": settings.postal_address,
        "valid_days": CONFIRM_VALID_DAYS,
    }
    html = compile_mjml(env.get_template("confirm.mjml").render(**values))
    text = env.get_template("confirm.txt").render(**values)
    return Message(
        subject=subject,
        html=html,
        text=text,
        from_email=settings.from_email,
        from_name=settings.from_name,
        categories=("confirmation",),
        tracking=False,
        action_urls=action_urls(settings),
    )


def sign_up(
    session: Session,
    email: str,
    name: str | None,
    ip: str | None,
    now: datetime | None = None,
) -> Confirmation | None:
    """What one post of the form does to the list (`request_subscription`); the
    confirmation to send, if one is due (at most one per ten minutes). Raises
    InvalidAddress for a malformed address. `now` is when the form was posted: the consent's
    time. The name is stored (it is the person's, once they confirm) but never sent.

    `session` is a write transaction taken up front (`session_scope(immediate=True)`): the
    look-up and the insert must not race a second post of the same address."""
    outcome = request_subscription(session, email, name=name, ip=ip, now=now)
    if not outcome.send_confirmation or outcome.subscriber_id is None:
        return None
    return Confirmation(subscriber_id=outcome.subscriber_id, email=normalize_email(email))


def send_confirmation(confirmation: Confirmation, settings: Settings, backend: Backend) -> bool:
    """Send one confirmation email; False (logged) when it did not go, whatever the cause:
    the provider, the template, the key."""
    recipient = Recipient(
        subscriber_id=confirmation.subscriber_id,
        email=confirmation.email,
        name=None,
        substitutions={},
        headers={},
    )
    try:
        token = Signer(settings.secret()).confirm_token(confirmation.subscriber_id)
        message = confirmation_message(settings, SiteUrls(settings.site_url).confirm(token))
        backend.send_batch(message, [recipient])
    except Exception:
        # The form answered long ago; the operator sees this in the log.
        log.exception("confirmation email to subscriber %s failed", confirmation.subscriber_id)
        return False
    return True
