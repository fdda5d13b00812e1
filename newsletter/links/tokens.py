"""Signed, purpose-bound tokens for the links in every email and page.

A token is `<payload>.<mac>`: the payload is a few integers (ids, a timestamp) packed as
varints and base64url-encoded, never an address; the MAC is keyed BLAKE2b (a MAC by design,
RFC 7693) over the purpose and the payload, 96 bits. The purpose is inside the MAC, so a
vote token is not an unsubscribe token.

One spelling per token: `verify` accepts exactly the string `sign` produced. Base64 has
other spellings of the same bytes (padding, `+` and `/`, set trailing bits, characters a
lenient decoder skips) and varints have overlong ones (`0x80 0x00` is another zero); each
is refused, so a token can be used as a key (a log, a replay check, a cache) and a link
cannot be varied to slip past one. A dated token (a confirmation) is refused when it is
dated more than `CLOCK_SKEW` seconds ahead of this machine's clock.

Short and cheap on purpose: a send signs one per recipient (about 1 µs, where HMAC-SHA256
costs 3 µs), with the shared parts prepared once (`RecipientTokens`).

Two generations of email links. An issue's email now carries one `RECIPIENT` token per
recipient, proving (subscriber, issue); every link of that email is built from it and names
its choice in the path (`links.recipient`). Emails sent before carry one token per link
(`UNSUBSCRIBE`, `VOTE`, signed for the whole send by `IssueTokens`); those never expire and
are still accepted as they were. Confirmation emails keep their own dated token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from newsletter.core.errors import Refused

MAC_BYTES = 12
_MAC_CHARS = MAC_BYTES * 4 // 3  # a multiple of 3 bytes: base64 without padding
assert MAC_BYTES % 3 == 0
TOKEN_MAX = 200
"""Longer than any token `sign` makes (four 64-bit values and the MAC are under 80)."""
CLOCK_SKEW = 300
"""Seconds a dated token may be ahead of this clock (another machine's clock drifts)."""
_VALUE_LIMIT = 2**63  # nine varint bytes; `_unpack` refuses longer
_SHAPE = re.compile(rf"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{{{_MAC_CHARS}}}")


class Purpose(StrEnum):
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"
    VOTE = "vote"
    RECIPIENT = "recipient"


FIELDS: dict[Purpose, int] = {
    Purpose.CONFIRM: 2,  # subscriber id, issued at (unix seconds)
    Purpose.UNSUBSCRIBE: 2,  # subscriber id, issue id (0 when not from an issue)
    Purpose.VOTE: 4,  # subscriber id, issue id, comparison id, tool id
    Purpose.RECIPIENT: 2,  # subscriber id, issue id: every link of one issue's email
}
DATED = frozenset({Purpose.CONFIRM})
"""Purposes whose second value is the time the token was issued."""


class TokenError(Refused):
    """The token is forged, damaged, or of another purpose."""


class ExpiredToken(TokenError):
    """A genuine token, too old for its purpose (a confirmation link after seven days)."""


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> str:
    return _b64_bytes(data).decode("ascii")


def _b64_bytes(data: bytes) -> bytes:
    # What base64.urlsafe_b64encode(data).rstrip(b"=") gives, without its Python wrappers.
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


def _unb64(text: str) -> bytes:
    """The bytes of unpadded base64url text that `_b64` could have written, and only that:
    TokenError for any other spelling (the caller checked the alphabet)."""
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        raise TokenError("malformed token") from None
    if _b64(data) != text:  # a length of 4n+1, or trailing bits that are not zero
        raise TokenError("malformed token")
    return data


def _pack(values: tuple[int, ...]) -> bytes:
    out = bytearray()
    for value in values:
        if not 0 <= value < _VALUE_LIMIT:
            raise ValueError("token fields are integers from 0 to 2**63 - 1")
        while True:
            low = value & 0x7F
            value >>= 7
            if value:
                out.append(low | 0x80)
            else:
                out.append(low)
                break
    return bytes(out)


def _pack_one(value: int) -> bytes:
    """`_pack((value,))`, without its loop for the ids a list has (under 2**21): a send
    packs one per recipient."""
    if 0 <= value < 0x80:
        return bytes((value,))
    if 0x80 <= value < 0x4000:
        return bytes((value & 0x7F | 0x80, value >> 7))
    if 0x4000 <= value < 0x200000:
        return bytes((value & 0x7F | 0x80, (value >> 7) & 0x7F | 0x80, value >> 14))
    return _pack((value,))


def _unpack(data: bytes) -> tuple[int, ...]:
    values: list[int] = []
    value = shift = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if shift > 63:
            raise TokenError("malformed token")
        if not byte & 0x80:
            if byte == 0 and shift > 7:  # an overlong varint: `_pack` never ends on 0x00
                raise TokenError("malformed token")
            values.append(value)
            value = shift = 0
    if shift:
        raise TokenError("malformed token")
    return tuple(values)


class Signer:
    def __init__(self, secret: bytes) -> None:
        # BLAKE2b keys are at most 64 bytes; hashing first accepts a secret of any length.
        self._use_key(hashlib.sha256(b"newsletter-tokens:" + secret).digest())

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        # Picklable (for a process that builds requests): the derived key, not the secret.
        return (_signer_with_key, (self._key,))

    def _use_key(self, key: bytes) -> None:
        self._key = key
        # The MAC is BLAKE2b(key, purpose ":" payload); the keyed state after the purpose is
        # the same for every token of that purpose, so it is computed once and copied.
        self._states: dict[Purpose, Any] = {}
        for purpose in Purpose:
            state = hashlib.blake2b(key=self._key, digest_size=MAC_BYTES)
            state.update(purpose.value.encode() + b":")
            self._states[purpose] = state

    def _mac(self, purpose: Purpose, payload: bytes) -> bytes:
        state = self._states[purpose].copy()
        state.update(payload)
        digest: bytes = state.digest()
        return digest

    def sign(self, purpose: Purpose, *values: int) -> str:
        if len(values) != FIELDS[purpose]:
            raise ValueError(f"a {purpose} token carries {FIELDS[purpose]} values")
        payload = _pack(values)
        return f"{_b64(payload)}.{_b64(self._mac(purpose, payload))}"

    def verify(
        self, purpose: Purpose, token: str, *, max_age: int | None = None
    ) -> tuple[int, ...]:
        """The values inside a genuine token of this purpose; TokenError otherwise.

        Genuine means exactly as `sign` wrote it (see the module docstring): every other
        spelling is "malformed", checked before the MAC. For a dated purpose, a token
        dated more than `CLOCK_SKEW` seconds ahead is refused, and `max_age` (seconds)
        refuses one too old with `ExpiredToken`.
        """
        if max_age is not None and purpose not in DATED:
            raise ValueError(f"a {purpose} token carries no date")
        if len(token) > TOKEN_MAX or not _SHAPE.fullmatch(token):
            raise TokenError("malformed token")
        encoded, mac = token.split(".")
        payload = _unb64(encoded)
        given = _unb64(mac)
        values = _unpack(payload)
        if len(values) != FIELDS[purpose]:
            raise TokenError("malformed token")
        if not hmac.compare_digest(given, self._mac(purpose, payload)):
            raise TokenError("invalid token")
        if purpose in DATED:
            age = time.time() - values[1]
            if age < -CLOCK_SKEW:
                raise TokenError("token dated in the future")
            if max_age is not None and age > max_age:
                raise ExpiredToken("expired token")
        return values

    def confirm_token(self, subscriber_id: int, now: float | None = None) -> str:
        return self.sign(
            Purpose.CONFIRM, subscriber_id, int(now if now is not None else time.time())
        )

    def unsubscribe_token(self, subscriber_id: int, issue_id: int = 0) -> str:
        return self.sign(Purpose.UNSUBSCRIBE, subscriber_id, issue_id)

    def vote_token(
        self, subscriber_id: int, issue_id: int, comparison_id: int, tool_id: int
    ) -> str:
        return self.sign(Purpose.VOTE, subscriber_id, issue_id, comparison_id, tool_id)

    def recipient_token(self, subscriber_id: int, issue_id: int) -> str:
        return self.sign(Purpose.RECIPIENT, subscriber_id, issue_id)


def _signer_with_key(key: bytes) -> Signer:
    signer = Signer.__new__(Signer)
    signer._use_key(key)
    return signer


class IssueTokens:
    """The unsubscribe and vote tokens of one issue's email, for subscriber after subscriber.

    Byte for byte what `Signer.unsubscribe_token` and `Signer.vote_token` give; the purpose
    states and the packed issue, comparison and tool ids are prepared once per issue, a
    subscriber's id is packed once for all of their tokens, and their MACs (12 bytes, so
    whole base64 quanta) are encoded in one call.
    """

    def __init__(self, signer: Signer, issue_id: int, votes: Sequence[tuple[int, int]]) -> None:
        vote_state = signer._states[Purpose.VOTE]
        self._parts: list[tuple[Any, bytes]] = [
            (signer._states[Purpose.UNSUBSCRIBE], _pack((issue_id,))),
            *((vote_state, _pack((issue_id, c, t))) for c, t in votes),
        ]

    def for_subscriber(self, subscriber_id: int) -> tuple[str, list[str]]:
        """(unsubscribe token, vote tokens in the order the votes were given)."""
        head = _pack((subscriber_id,))
        payloads: list[bytes] = []
        macs: list[bytes] = []
        for state, tail in self._parts:
            payload = head + tail
            mac = state.copy()
            mac.update(payload)
            macs.append(mac.digest())
            payloads.append(payload)
        mac_text = _b64_bytes(b"".join(macs)).decode("ascii")
        width = _MAC_CHARS
        tokens = [
            f"{_b64_bytes(payload).decode('ascii')}.{mac_text[width * i : width * (i + 1)]}"
            for i, payload in enumerate(payloads)
        ]
        return tokens[0], tokens[1:]


class RecipientTokens:
    """The one token of each recipient of one issue (`Purpose.RECIPIENT`), subscriber after
    subscriber: byte for byte `Signer.recipient_token`, with the purpose's keyed state and
    the packed issue id prepared once (a send signs one per recipient)."""

    def __init__(self, signer: Signer, issue_id: int) -> None:
        self._state = signer._states[Purpose.RECIPIENT]
        self._tail = _pack((issue_id,))

    def for_subscriber(self, subscriber_id: int) -> str:
        payload = _pack_one(subscriber_id) + self._tail
        mac = self._state.copy()
        mac.update(payload)
        return f"{_b64_bytes(payload).decode('ascii')}.{_b64_bytes(mac.digest()).decode('ascii')}"
