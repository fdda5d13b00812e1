"""The public form's side of the list: sign-up with double opt-in and the confirmation
email (the link it carries is `newsletter.sending.confirm`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel import Session

from newsletter.core.settings import Settings
from newsletter.delivery import Backend, Message, Recipient
from newsletter.links.tokens import Signer
from newsletter.links.urls import SiteUrls
from newsletter.publishing.render import EMAIL_TEMPLATES, compile_mjml, environment
from newsletter.sending.confirm import CONFIRM_VALID_DAYS
from subscribers.addresses import normalize_email
from subscribers.service import request_subscription

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Confirmation:
    """A confirmation email to send, once the answer to the form has gone out."""

    subscriber_id: int
    email: str
    name: str | None = None


def confirmation_message(settings: Settings, name: str | None, confirm_url: str) -> Message:
    env = environment(settings.templates_dir / EMAIL_TEMPLATES)
    subject = f"Confirm your subscription to {settings.from_name}"
    values = {
        "subject": subject,
        "name": name,
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
    )


def sign_up(session: Session, email: str, name: str | None, ip: str | None) -> Confirmation | None:
    """Create or refresh a pending subscriber; the confirmation to send, if one is due (at
    most one per ten minutes). Raises InvalidAddress for a malformed address and says
    nothing about whether the address was known: the caller answers the same either way,
    and sends the email after answering, so the answer takes as long for every address.

    `session` is a write transaction taken up front (`session_scope(immediate=True)`): the
    look-up and the insert must not race a second click of the same form."""
    outcome = request_subscription(session, email, name=name, ip=ip)
    if not outcome.send_confirmation or outcome.subscriber_id is None:
        return None
    return Confirmation(outcome.subscriber_id, normalize_email(email), name)


def send_confirmation(confirmation: Confirmation, settings: Settings, backend: Backend) -> bool:
    token = Signer(settings.secret()).confirm_token(confirmation.subscriber_id)
    message = confirmation_message(
        settings, confirmation.name, SiteUrls(settings.site_url).confirm(token)
    )
    recipient = Recipient(
        subscriber_id=confirmation.subscriber_id,
        email=confirmation.email,
        name=confirmation.name,
        substitutions={},
        headers={},
    )
    try:
        backend.send_batch(message, [recipient])
    except Exception:
        # The form has answered already; the operator sees this in the log.
        log.exception("confirmation email to subscriber %s failed", confirmation.subscriber_id)
        return False
    return True
