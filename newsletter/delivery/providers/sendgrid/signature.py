"""SendGrid's signed event webhook: the key from its settings page, and the check that a
request carries a recent signature made with the matching private key.

SendGrid signs the timestamp header followed by the exact body bytes with ECDSA P-256 and
SHA-256, and sends the DER signature in base64. The check uses `cryptography` (OpenSSL):
the same answer as the `sendgrid` package's helper, about three times faster (see the
library facts). A timestamp is part of what is signed, so refusing old ones stops a
captured request from being replayed later; a little clock skew ahead is allowed.

Every refusal is a `WebhookRefused` whose message names the cause for the log; what the
caller answers is the same whatever the cause.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from typing import Final

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from newsletter.core.settings import SettingsError
from newsletter.delivery.events import WebhookRefused

SIGNATURE_HEADER: Final = "x-twilio-email-event-webhook-signature"
TIMESTAMP_HEADER: Final = "x-twilio-email-event-webhook-timestamp"
KEY_VARIABLE: Final = "SENDGRID_WEBHOOK_PUBLIC_KEY"

MAX_AHEAD: Final = 60
"""Seconds a timestamp may be ahead of our clock (the two clocks never agree exactly)."""

_SIGNATURE_MAX: Final = 200
"""Characters of a signature header worth decoding: a P-256 DER signature is at most 72
bytes, 96 in base64."""
_TIMESTAMP: Final = re.compile(r"[0-9]{1,12}")  # unix seconds, ASCII digits only
_ALGORITHM: Final = ec.ECDSA(hashes.SHA256())


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The key as SendGrid's settings page shows it: base64 of a DER SubjectPublicKeyInfo
    of an EC P-256 key (whitespace, as a pasted key may wrap, is ignored). SettingsError,
    naming the variable, for anything else."""
    try:
        der = base64.b64decode("".join(text.split()), validate=True)
        key = serialization.load_der_public_key(der)
    except (binascii.Error, ValueError, UnsupportedAlgorithm):
        raise SettingsError(
            f"{KEY_VARIABLE}: not a public key (expected base64 DER, as SendGrid's "
            "Event Webhook settings show it)"
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise SettingsError(f"{KEY_VARIABLE}: not an EC P-256 key (SendGrid signs with P-256)")
    return key


class SignatureCheck:
    """Checks requests against one public key and one maximum age."""

    def __init__(self, key: ec.EllipticCurvePublicKey, max_age: int) -> None:
        self.key = key
        self.max_age = max_age

    def check(self, body: bytes, headers: Mapping[str, str], now: float) -> None:
        """WebhookRefused unless `body` is signed with our key at a timestamp no older
        than `max_age` seconds and no more than `MAX_AHEAD` ahead of `now`."""
        lower = {name.lower(): value for name, value in headers.items()}
        stamp = lower.get(TIMESTAMP_HEADER, "")
        encoded = lower.get(SIGNATURE_HEADER, "")
        if not stamp or not encoded:
            raise WebhookRefused("the signature or timestamp header is missing")
        if not _TIMESTAMP.fullmatch(stamp):
            raise WebhookRefused(f"the timestamp is not unix seconds: {stamp[:40]!r}")
        age = math.floor(now) - int(stamp)
        if age > self.max_age:
            raise WebhookRefused(f"the timestamp is {age} s old (at most {self.max_age})")
        if -age > MAX_AHEAD:
            raise WebhookRefused(f"the timestamp is {-age} s ahead (at most {MAX_AHEAD})")
        try:
            if len(encoded) > _SIGNATURE_MAX:
                raise ValueError(f"over {_SIGNATURE_MAX} characters")
            signature = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise WebhookRefused(f"the signature is not base64 ({exc})") from None
        try:
            self.key.verify(signature, stamp.encode("ascii") + body, _ALGORITHM)
        except (InvalidSignature, ValueError):
            raise WebhookRefused("the signature does not match the timestamp and body") from None
