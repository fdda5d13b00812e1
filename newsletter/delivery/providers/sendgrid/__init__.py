"""The SendGrid provider: its documented limits, the request encoding, the reading of every
outcome, and the backend that puts them together. Knows no issue and no subscriber."""

from newsletter.delivery.providers.sendgrid.backend import BUILD_PROCESS_MINIMUM, SendGridBackend
from newsletter.delivery.providers.sendgrid.encoding import (
    LimitError,
    build_body,
    check_message,
    encode_request,
)
from newsletter.delivery.providers.sendgrid.outcomes import classify

__all__ = [
    "BUILD_PROCESS_MINIMUM",
    "LimitError",
    "SendGridBackend",
    "build_body",
    "check_message",
    "classify",
    "encode_request",
]
