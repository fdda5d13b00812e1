"""The provider seam: every capability and hook the send pipeline uses, declared once.

A provider is a subclass in its own folder under `providers/`, named in `registry`. The
pipeline asks the backend (never `getattr`, never `isinstance` on a concrete class), and
owns it for a lifetime: `close()` releases what the backend started (the SendGrid build
processes), and a backend is a context manager that closes itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from types import TracebackType
from typing import ClassVar, Self

from newsletter.delivery.errors import DeliveryError
from newsletter.delivery.message import Message, Recipient


class Backend(ABC):
    """Delivers one batch of recipients of one message; raises `DeliveryError` subclasses
    on failure (the sender decides what a failure means)."""

    name: ClassVar[str]
    """The provider's name, as configured (`NEWSLETTER_BACKEND`) and shown in messages."""
    resend_safe: ClassVar[bool] = False
    """Sending the same batch twice cannot deliver twice (the outbox overwrites its files):
    a batch whose outcome is unknown may simply be sent again."""
    max_batch_size: ClassVar[int | None] = None
    """The most recipients one `send_batch` takes (None: no limit); a send whose configured
    batch size is larger is refused before it starts."""
    supports_sandbox: ClassVar[bool] = False
    """`Message.sandbox` is honoured: the provider validates the request and delivers
    nothing. Without it, a dry run only builds the batches."""

    def check_message(self, message: Message) -> None:  # noqa: B027 (optional hook)
        """Refuse up front (a `DeliveryError`) what would be refused for every batch."""

    def prepare(self, recipients: int) -> None:  # noqa: B027 (optional hook)
        """Before a send of about `recipients`: start what pays off at that size."""

    @abstractmethod
    def send_batch(self, message: Message, recipients: Sequence[Recipient]) -> str:
        """Deliver one batch; returns the provider's id for it (SendGrid's X-Message-Id).

        A provider that refuses some recipients one by one while delivering the others (the
        outbox, for an address it cannot write) raises `RecipientsRefused` after
        delivering them, naming each refused recipient and its reason."""

    def as_failure(self, exc: Exception) -> DeliveryError | None:
        """An exception from `send_batch` as a delivery failure; None when it is not one
        (a bug: the batch's fate is unknown)."""
        return exc if isinstance(exc, DeliveryError) else None

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release whatever the backend started; it may be used again afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
