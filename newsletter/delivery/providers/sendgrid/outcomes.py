"""What a failed mail/send call means, as the sender's three kinds of delivery failure.

Every way a request can end is classified, because what the sender may do next depends on
it: retry (certainly not accepted), give up on the batch (refused), stop the whole send (the
key or the sender identity is refused), or record it as unknown (it may have been accepted:
a timeout or a connection dropped after the body went out). The `sendgrid` package raises
`python_http_client` errors for answers and the standard library's for the network; one
function reads them all, the way a transport maps its library's exceptions through one
table.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
from typing import Final

from python_http_client import exceptions as http_errors

from newsletter.delivery import AmbiguousOutcome, DeliveryError, PermanentFailure, TransientFailure

RATE_LIMITED: Final = 429
RETRYABLE_STATUSES: Final = frozenset({500, 502, 503, 504})
STOPPING_STATUSES: Final = frozenset({401, 403})
ERROR_TEXT_MAX_CHARS: Final = 600


def _error_text(exc: http_errors.HTTPError) -> str:
    """SendGrid's own words from an error answer, on one line."""
    raw = exc.body if isinstance(exc.body, bytes | str) else b""
    try:
        errors = json.loads(raw)["errors"]
        parts = [
            f"{e['field']}: {e['message']}" if e.get("field") else str(e["message"]) for e in errors
        ]
        text = "; ".join(parts)
    except (ValueError, KeyError, TypeError):
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    text = " ".join(text.split())[:ERROR_TEXT_MAX_CHARS]
    return f"SendGrid answered {exc.status_code}" + (f": {text}" if text else "")


def _header(exc: http_errors.HTTPError, name: str) -> str | None:
    headers = getattr(exc, "headers", None)
    if headers is None:
        return None
    value = headers.get(name)
    return None if value is None else str(value)


def _retry_at(exc: http_errors.HTTPError) -> float | None:
    value = _header(exc, "X-RateLimit-Reset")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _answered(exc: http_errors.HTTPError) -> DeliveryError:
    """SendGrid answered, with an error status: its decision, read from the status."""
    status = int(exc.status_code)
    text = _error_text(exc)
    if status == RATE_LIMITED:
        return TransientFailure(text, status=status, retry_at=_retry_at(exc), rate_limited=True)
    if status in RETRYABLE_STATUSES or status >= 500:
        return TransientFailure(text, status=status)
    if status in STOPPING_STATUSES:
        return PermanentFailure(text, status=status, stops_send=True)
    return PermanentFailure(text, status=status)


def classify(exc: BaseException) -> DeliveryError | None:
    """What a failed mail/send call means for the batch; None if it is not a delivery
    failure at all (a bug, to be raised as is).

    - 429: transient, rate limited; come back at X-RateLimit-Reset when it is given.
    - 500/502/503/504: transient (SendGrid did not take it).
    - 401/403: permanent and stops the send (the key or the sender identity is refused).
    - 400/413 and other 4xx: permanent for this batch, with SendGrid's error text.
    - connection refused or the name not resolved: transient (nothing was sent).
    - a timeout, a reset or a drop, before or after the answer started: ambiguous.
    """
    if isinstance(exc, http_errors.HTTPError):
        return _answered(exc)
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        if isinstance(reason, ConnectionRefusedError | socket.gaierror):
            return TransientFailure(f"could not connect to SendGrid: {reason}")
        return AmbiguousOutcome(f"the connection failed while sending: {reason}")
    if isinstance(exc, ConnectionRefusedError):
        return TransientFailure(f"could not connect to SendGrid: {exc}")
    if isinstance(exc, TimeoutError):
        return AmbiguousOutcome("no answer from SendGrid before the timeout")
    if isinstance(exc, ConnectionError | http.client.HTTPException | OSError):
        return AmbiguousOutcome(f"the connection was lost: {type(exc).__name__}: {exc}")
    return None
