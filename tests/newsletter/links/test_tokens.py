"""Signed tokens: the issue-wide fast path equals the signer, the format never changes
(links already in inboxes must keep working), and a token has one spelling only."""

from __future__ import annotations

import base64
import string
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.links.tokens import (
    CLOCK_SKEW,
    DATED,
    FIELDS,
    ExpiredToken,
    IssueTokens,
    Purpose,
    RecipientTokens,
    Signer,
    TokenError,
    _b64,
)


@settings(max_examples=200, deadline=None)
@given(
    subscriber=st.integers(0, 2**40),
    issue=st.integers(0, 2**31),
    votes=st.lists(st.tuples(st.integers(0, 2**31), st.integers(0, 2**31)), max_size=8),
)
def test_issue_tokens_are_exactly_the_signers(
    subscriber: int, issue: int, votes: list[tuple[int, int]]
) -> None:
    signer = Signer(b"a secret of some length")

    unsubscribe, vote_tokens = IssueTokens(signer, issue, votes).for_subscriber(subscriber)

    assert unsubscribe == signer.unsubscribe_token(subscriber, issue)
    assert vote_tokens == [signer.vote_token(subscriber, issue, c, t) for c, t in votes]
    assert signer.verify(Purpose.UNSUBSCRIBE, unsubscribe) == (subscriber, issue)


def _reference_token(secret: bytes, purpose: str, *values: int) -> str:
    """The token format as first written (links already in inboxes must keep working)."""
    import base64
    import hashlib

    key = hashlib.sha256(b"newsletter-tokens:" + secret).digest()
    payload = bytearray()
    for value in values:
        while True:
            low, value = value & 0x7F, value >> 7
            payload.append(low | 0x80 if value else low)
            if not value:
                break
    mac = hashlib.blake2b(purpose.encode() + b":" + payload, key=key, digest_size=12).digest()

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return f"{b64(bytes(payload))}.{b64(mac)}"


@settings(max_examples=100, deadline=None)
@given(values=st.tuples(st.integers(0, 2**40), st.integers(0, 2**40)))
def test_the_token_format_has_not_changed(values: tuple[int, int]) -> None:
    signer = Signer(b"s3cret")
    assert signer.unsubscribe_token(*values) == _reference_token(b"s3cret", "unsubscribe", *values)
    assert signer.confirm_token(values[0], values[1]) == _reference_token(
        b"s3cret", "confirm", *values
    )


@settings(max_examples=100, deadline=None)
@given(values=st.tuples(st.integers(0, 2**40), st.integers(0, 2**40)))
def test_the_old_link_tokens_are_still_signed_and_read_as_they_were(
    values: tuple[int, int],
) -> None:
    """Vote links of emails already sent carry this exact format; they never expire."""
    signer = Signer(b"s3cret")
    vote = signer.vote_token(*values, values[1] + 1, 7)
    assert vote == _reference_token(b"s3cret", "vote", *values, values[1] + 1, 7)
    assert signer.verify(Purpose.VOTE, vote) == (*values, values[1] + 1, 7)


@settings(max_examples=200, deadline=None)
@given(subscriber=st.integers(0, 2**40), issue=st.integers(0, 2**31))
def test_recipient_tokens_are_exactly_the_signers_and_of_their_own_purpose(
    subscriber: int, issue: int
) -> None:
    signer = Signer(b"s3cret")
    token = RecipientTokens(signer, issue).for_subscriber(subscriber)
    assert token == signer.recipient_token(subscriber, issue)
    assert token == _reference_token(b"s3cret", "recipient", subscriber, issue)
    assert signer.verify(Purpose.RECIPIENT, token) == (subscriber, issue)
    # Same two values as an unsubscribe token, yet neither stands for the other.
    with pytest.raises(TokenError):
        signer.verify(Purpose.UNSUBSCRIBE, token)
    with pytest.raises(TokenError):
        signer.verify(Purpose.RECIPIENT, signer.unsubscribe_token(subscriber, issue))
    with pytest.raises(TokenError):
        Signer(b"another secret").verify(Purpose.RECIPIENT, token)


def test_recipient_tokens_pack_every_length_of_id_as_the_signer_does() -> None:
    """Ids on either side of each byte a packed id gains (the fast path for one id)."""
    signer = Signer(b"s3cret")
    tokens = RecipientTokens(signer, 300)
    for edge in (0x80, 0x4000, 0x200000, 2**28):
        for subscriber in (0, edge - 1, edge, edge + 1):
            assert tokens.for_subscriber(subscriber) == signer.recipient_token(subscriber, 300)
    with pytest.raises(ValueError, match="token fields"):
        tokens.for_subscriber(-1)


def test_a_recipient_token_is_short() -> None:
    """Two of them travel per recipient (the substitution and List-Unsubscribe): a million
    subscribers' ids and a long-lived list's issue ids keep it at 24 characters."""
    assert len(Signer(b"s3cret").recipient_token(2_000_000, 10_000)) == 24


# ------------------------------------------------------------------ one spelling per token

SECRET = b"a secret of some length"
PURPOSES = st.sampled_from(list(Purpose))
NOW = int(time.time())  # fixed for the session: hypothesis replays draws


def _values(purpose: Purpose) -> st.SearchStrategy[tuple[int, ...]]:
    value = st.integers(0, 2**63 - 1) | st.integers(0, 300)
    if purpose in DATED:  # dated now, give or take the allowed skew
        return st.tuples(value, st.integers(NOW - 1000, NOW))
    return st.tuples(*[value] * FIELDS[purpose])


def _varint(value: int, extra: int) -> bytes:
    """`value` as a varint `extra` bytes longer than it needs (0: the canonical one)."""
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if value or extra:
            out.append(low | 0x80)
            if not value:
                extra -= 1
                if not extra:
                    out.append(0)
                    return bytes(out)
        else:
            out.append(low)
            return bytes(out)


@st.composite
def _spellings(draw: st.DrawFn, data: bytes) -> str:
    """Base64 texts a lenient decoder reads as `data`; the first is the canonical one."""
    canonical = base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    kind = draw(
        st.sampled_from(["canonical", "padded", "standard", "trailing", "space", "inserted"])
    )
    if kind == "padded":
        return canonical + "=" * draw(st.integers(1, 3))
    if kind == "standard":
        return canonical.replace("-", "+").replace("_", "/")
    if kind == "trailing" and len(data) % 3:
        unused = {1: 0b1111, 2: 0b11}[len(data) % 3]  # bits the last character leaves over
        alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
        last = alphabet.index(canonical[-1]) | draw(st.integers(1, unused))
        return canonical[:-1] + alphabet[last]
    if kind == "space":
        at = draw(st.integers(0, len(canonical)))
        return canonical[:at] + draw(st.sampled_from([" ", "\n", "\t", "\r\n"])) + canonical[at:]
    if kind == "inserted":
        at = draw(st.integers(0, len(canonical)))
        return canonical[:at] + draw(st.text(min_size=1, max_size=3)) + canonical[at:]
    return canonical


@st.composite
def _variants(draw: st.DrawFn) -> tuple[Purpose, str]:
    """A token of a genuine MAC over `purpose` and some spelling of its values: overlong
    varints (signed as they are, as if the key had made them), base64 variants."""
    purpose = draw(PURPOSES)
    values = draw(_values(purpose))
    payload = b"".join(_varint(v, draw(st.sampled_from([0, 0, 1, 2]))) for v in values)
    mac = Signer(SECRET)._mac(purpose, payload)
    return purpose, f"{draw(_spellings(payload))}.{draw(_spellings(mac))}"


@settings(max_examples=1500, deadline=None)
@given(variant=_variants())
def test_every_token_that_verifies_is_exactly_what_sign_produces(
    variant: tuple[Purpose, str],
) -> None:
    purpose, token = variant
    signer = Signer(SECRET)
    try:
        values = signer.verify(purpose, token)
    except TokenError:
        return
    assert token == signer.sign(purpose, *values)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), purpose=PURPOSES)
def test_every_token_sign_produces_verifies(data: st.DataObject, purpose: Purpose) -> None:
    signer = Signer(SECRET)
    values = data.draw(_values(purpose))
    assert signer.verify(purpose, signer.sign(purpose, *values)) == values


def _respelled(token: str) -> list[str]:
    encoded, mac = token.split(".")
    return [
        f"{encoded}.{mac}=",  # padding (a 12-byte MAC needs none; add it anyway)
        f"{encoded}==.{mac}" if len(encoded) % 4 == 2 else f"{encoded}=.{mac}",
        f" {token}",
        f"{token}\n",
        f"{encoded}.{mac[:8]} {mac[8:]}",
        f"{encoded}.{mac[:8]}\n{mac[8:]}",
    ]


def test_other_spellings_of_a_genuine_token_are_refused() -> None:
    signer = Signer(SECRET)
    token = signer.unsubscribe_token(5, 3)  # "BQM.<mac>": 2 bytes, so 2 spare bits
    encoded, mac = token.split(".")
    assert encoded == "BQM"
    spellings = [
        *_respelled(token),
        f"BQN.{mac}",  # the spare bits of the last character set
        f"BQO.{mac}",
        f"BQP.{mac}",
    ]
    plus_slash = signer.unsubscribe_token(0xFBFF, 0)  # payload bytes ff f7 03: "-_cD"
    assert "-" in plus_slash or "_" in plus_slash
    spellings.append(plus_slash.replace("-", "+").replace("_", "/"))
    for spelling in spellings:
        with pytest.raises(TokenError, match="malformed"):
            signer.verify(Purpose.UNSUBSCRIBE, spelling)
    assert signer.verify(Purpose.UNSUBSCRIBE, token) == (5, 3)


def test_an_overlong_varint_is_refused_even_under_a_genuine_mac() -> None:
    signer = Signer(SECRET)
    for payload in (b"\x80\x00\x03", b"\x85\x00\x03", b"\x05\x83\x80\x00"):
        token = f"{_b64(payload)}.{_b64(signer._mac(Purpose.UNSUBSCRIBE, payload))}"
        with pytest.raises(TokenError, match="malformed"):
            signer.verify(Purpose.UNSUBSCRIBE, token)
    canonical = b"\x00\x03"
    token = f"{_b64(canonical)}.{_b64(signer._mac(Purpose.UNSUBSCRIBE, canonical))}"
    assert signer.verify(Purpose.UNSUBSCRIBE, token) == (0, 3)


def test_a_confirmation_dated_in_the_future_is_refused() -> None:
    signer = Signer(SECRET)
    now = time.time()
    ahead = signer.confirm_token(7, now + CLOCK_SKEW + 60)
    with pytest.raises(TokenError, match="future") as refused:
        signer.verify(Purpose.CONFIRM, ahead, max_age=7 * 86400)
    assert not isinstance(refused.value, ExpiredToken)
    with pytest.raises(TokenError, match="future"):
        signer.verify(Purpose.CONFIRM, signer.confirm_token(7, now + 10 * 365 * 86400))
    # A clock a little behind the signer's is allowed for.
    assert signer.verify(Purpose.CONFIRM, signer.confirm_token(7, now + 60), max_age=86400)[0] == 7
    with pytest.raises(ExpiredToken):
        signer.verify(Purpose.CONFIRM, signer.confirm_token(7, now - 86401), max_age=86400)


def test_oversized_and_foreign_text_is_malformed_not_an_error() -> None:
    signer = Signer(SECRET)
    for text in ("", ".", "a.b", "é.é", "\x00", "A" * 5000 + "." + "A" * 16, "a.b.c", "..."):
        with pytest.raises(TokenError, match="malformed"):
            signer.verify(Purpose.VOTE, text)
