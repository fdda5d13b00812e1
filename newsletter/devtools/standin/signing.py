"""Signing event webhook requests the way SendGrid does, for the stand-in, tests and
benchmarks: an ECDSA P-256 key pair made on the spot, the public key in the form SendGrid's
settings page shows (base64 of the DER SubjectPublicKeyInfo, what
`SENDGRID_WEBHOOK_PUBLIC_KEY` takes), and a signature over the timestamp followed by the
exact body bytes, base64 of the DER signature."""

from __future__ import annotations

import base64
import time
from typing import Final

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

SIGNATURE_HEADER: Final = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER: Final = "X-Twilio-Email-Event-Webhook-Timestamp"


class WebhookSigner:
    """A key pair of its own; `headers(body)` are what a signed POST of `body` carries."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key: Final = base64.b64encode(der).decode("ascii")

    def signature(self, body: bytes, timestamp: str) -> str:
        signed = self._key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(signed).decode("ascii")

    def headers(self, body: bytes, *, timestamp: float | None = None) -> dict[str, str]:
        """The two headers of a POST of `body` signed at `timestamp` (now by default)."""
        stamp = str(int(time.time() if timestamp is None else timestamp))
        return {SIGNATURE_HEADER: self.signature(body, stamp), TIMESTAMP_HEADER: stamp}
