"""Signed tokens: the issue-wide fast path equals the signer, and the format never changes
(links already in inboxes must keep working)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.links.tokens import IssueTokens, Purpose, Signer


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
