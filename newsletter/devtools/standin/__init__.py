"""A local stand-in for SendGrid's v3 Mail Send endpoint (``POST /v3/mail/send``).

Why it exists: the test suite, editors (``newsletter dev sendgrid``) and the
benchmark need to push real requests through the real ``sendgrid`` client
without touching SendGrid, see exactly who was sent what, and rehearse the
failures (429, 5xx, timeouts, dropped connections) that decide whether the
sender double-sends or loses mail.

One module per concern: ``validation`` (is this a body SendGrid would accept,
with SendGrid's limits taken from the provider's ``limits``), ``faults`` (the
scripted misbehaviour), ``records`` (what was accepted, the counters),
``server`` with its routes ``mail_send`` and ``control`` (the thin HTTP
layer), ``stand_in`` (the object tests use) and ``command`` (``python -m``). The event
webhook (``--events-to``): ``events`` makes SendGrid's events for what was accepted,
``click_links`` picks the link a reader clicks, ``webhook_poster`` posts them signed
(``signing``) in batches with retries, ``event_feed`` ties the three together.

Standard library (``ThreadingHTTPServer``, ``json``, ``urllib``) and ``cryptography``.
"""

from newsletter.delivery.providers.sendgrid.limits import MAX_BODY_BYTES
from newsletter.devtools.standin.api_errors import ApiError
from newsletter.devtools.standin.command import main
from newsletter.devtools.standin.event_feed import EventFeed
from newsletter.devtools.standin.events import EventShares
from newsletter.devtools.standin.faults import Fault, FaultKind
from newsletter.devtools.standin.mail_send import MAIL_SEND_PATH
from newsletter.devtools.standin.records import (
    Accepted,
    AcceptedPersonalization,
    RecordMode,
    Stats,
)
from newsletter.devtools.standin.stand_in import StandIn
from newsletter.devtools.standin.validation import validate_mail_send
from newsletter.devtools.standin.webhook_poster import PosterSettings, PostStats

__all__ = [
    "MAIL_SEND_PATH",
    "MAX_BODY_BYTES",
    "Accepted",
    "AcceptedPersonalization",
    "ApiError",
    "EventFeed",
    "EventShares",
    "Fault",
    "FaultKind",
    "PostStats",
    "PosterSettings",
    "RecordMode",
    "StandIn",
    "Stats",
    "main",
    "validate_mail_send",
]
