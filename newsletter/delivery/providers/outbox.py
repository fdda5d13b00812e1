"""The embedded delivery backend: one standard .eml file per recipient, no account anywhere.

Files are written to a temporary name and renamed, so a crash never leaves half a message,
and a recipient's file name is fixed, so sending the same batch again overwrites rather
than duplicates.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from pathlib import Path

from newsletter.core.clock import utcnow
from newsletter.core.settings import Settings
from newsletter.delivery import Backend, DeliveryError, Message, Recipient, TransientFailure
from newsletter.delivery.headers import LIST_ID
from newsletter.delivery.placeholders import fill

_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")


def build_email(message: Message, recipient: Recipient) -> EmailMessage:
    """The complete MIME message one recipient gets: text first, then HTML."""
    email = EmailMessage(policy=SMTP)  # CRLF line ends, as on the wire
    email["From"] = Address(message.from_name, addr_spec=message.from_email)
    email["To"] = (
        Address(recipient.name, addr_spec=recipient.email) if recipient.name else recipient.email
    )
    email["Subject"] = fill(message.subject, recipient.substitutions)
    email["Date"] = format_datetime(utcnow())
    email["Message-ID"] = make_msgid(domain=message.from_email.rpartition("@")[2] or None)
    if message.list_id:
        email[LIST_ID] = message.list_id
    for name, value in {**message.headers, **recipient.headers}.items():
        email[name] = value
    for name, value in recipient.custom_args.items():
        email[f"X-Newsletter-{name.title()}"] = value
    email.set_content(fill(message.text, recipient.substitutions))
    email.add_alternative(fill(message.html, recipient.substitutions), subtype="html")
    return email


class OutboxBackend(Backend):
    """Writes each recipient's email to `folder`; nothing leaves the machine."""

    name = "outbox"
    resend_safe = True  # a batch written again overwrites the same files: never a duplicate

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboxBackend:
        return cls(settings.outbox_dir)

    def path_for(self, message: Message, recipient: Recipient) -> Path:
        batch = (
            "tests" if message.test else (message.categories[-1] if message.categories else "mail")
        )
        return (
            self.folder
            / batch
            / f"{recipient.subscriber_id:08d}-{_UNSAFE.sub('_', recipient.email)}.eml"
        )

    def send_batch(self, message: Message, recipients: Sequence[Recipient]) -> str:
        batch_id = secrets.token_urlsafe(16)
        for recipient in recipients:
            path = self.path_for(message, recipient)
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(f".{batch_id}.tmp")
            temporary.write_bytes(bytes(build_email(message, recipient)))
            os.replace(temporary, path)
        return batch_id

    def as_failure(self, exc: Exception) -> DeliveryError | None:
        """A failed write is safe to retry: each recipient's file has a fixed name and is
        replaced atomically, so writing the batch again overwrites, never duplicates."""
        if isinstance(exc, OSError):
            return TransientFailure(f"outbox: {exc}")
        return super().as_failure(exc)
