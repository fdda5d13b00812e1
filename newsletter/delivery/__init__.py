"""Provider-neutral delivery: the message, its recipients, the backend contract, failures.

Knows no issue and no subscriber table; providers live under `providers/`, one folder each.
"""

from newsletter.delivery.backend import Backend
from newsletter.delivery.batch import LinkScheme, PersonalizedBatch
from newsletter.delivery.errors import (
    AmbiguousOutcome,
    DeliveryError,
    PermanentFailure,
    RecipientsRefused,
    TransientFailure,
)
from newsletter.delivery.message import Message, Recipient

__all__ = [
    "AmbiguousOutcome",
    "Backend",
    "DeliveryError",
    "LinkScheme",
    "Message",
    "PermanentFailure",
    "PersonalizedBatch",
    "Recipient",
    "RecipientsRefused",
    "TransientFailure",
]
