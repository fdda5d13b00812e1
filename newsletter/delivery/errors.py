"""How a batch can fail, as every backend reports it: the sender decides by the class alone."""

from __future__ import annotations

from typing import Any

from newsletter.core.errors import NewsletterError


class DeliveryError(NewsletterError):
    """A batch was not delivered; the subclass says whether sending it again is safe."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Keyword attributes survive pickling (a failure raised in a build process).
        return (_rebuild_failure, (type(self), self.args, dict(self.__dict__)))


def _rebuild_failure(
    kind: type[DeliveryError], args: tuple[Any, ...], state: dict[str, Any]
) -> DeliveryError:
    failure = kind.__new__(kind)
    Exception.__init__(failure, *args)
    failure.__dict__.update(state)
    return failure


class TransientFailure(DeliveryError):
    """Certainly not accepted (429, 5xx, connection refused): safe to send again later.

    `retry_at` (unix seconds) is when the provider said to come back, if it said.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_at: float | None = None,
        rate_limited: bool = False,
    ) -> None:
        super().__init__(message, status=status)
        self.retry_at = retry_at
        self.rate_limited = rate_limited


class PermanentFailure(DeliveryError):
    """Refused, and the same request would be refused again (400, 413, a limit).

    `stops_send`: the cause is not this batch but the account or the message (401, 403,
    too many categories...): every batch would fail, so the whole send stops.
    """

    def __init__(
        self, message: str, *, status: int | None = None, stops_send: bool = False
    ) -> None:
        super().__init__(message, status=status)
        self.stops_send = stops_send


class AmbiguousOutcome(DeliveryError):
    """The request may have been accepted (a timeout, a connection dropped after sending):
    sending it again could deliver twice, so it is never repeated blindly."""


class RecipientsRefused(PermanentFailure):
    """Some recipients of the batch were refused, each for a reason of its own (an address
    the provider cannot write); the others were delivered, under `message_id`.

    `refused` maps subscriber id to the reason. Like SMTP's per-recipient refusals, a
    refused recipient is certainly not delivered and would be refused again, so the sender
    records them `failed` and the rest of the batch `accepted`. It is a `PermanentFailure`
    so that a caller sending to one recipient (a confirmation, a test send) needs no more
    than that to report it; when every recipient was refused (`delivered` is 0) the batch
    simply failed.
    """

    def __init__(
        self, message: str, *, refused: dict[int, str], delivered: int, message_id: str
    ) -> None:
        super().__init__(message)
        self.refused = refused
        self.delivered = delivered
        self.message_id = message_id
