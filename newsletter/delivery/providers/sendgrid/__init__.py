"""The SendGrid provider: its documented limits, the request encoding, the reading of every
outcome, and the backend that puts them together; and its signed event webhook (the
signature check and the event map). Knows no issue and no subscriber."""

from newsletter.delivery.providers.sendgrid.backend import BUILD_PROCESS_MINIMUM, SendGridBackend
from newsletter.delivery.providers.sendgrid.encoding import (
    LimitError,
    build_body,
    check_message,
    encode_request,
)
from newsletter.delivery.providers.sendgrid.event_map import EVENT_TYPES, parse_events
from newsletter.delivery.providers.sendgrid.outcomes import classify
from newsletter.delivery.providers.sendgrid.webhook import SendGridWebhook

__all__ = [
    "BUILD_PROCESS_MINIMUM",
    "EVENT_TYPES",
    "LimitError",
    "SendGridBackend",
    "SendGridWebhook",
    "build_body",
    "check_message",
    "classify",
    "encode_request",
    "parse_events",
]
