"""The request the SendGrid provider builds, and the limits it refuses before sending: the
dict body, the message-level checks, and the sender's fast path held equal to the dict."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.delivery import PersonalizedBatch
from newsletter.delivery.providers.sendgrid import (
    LimitError,
    build_body,
    check_message,
    encode_request,
)
from newsletter.links.tokens import IssueTokens, Purpose, Signer
from tests.newsletter.delivery.providers.sendgrid.samples import (
    ROWS,
    message,
    personalizer,
    recipient,
)


def test_the_request_body_as_sendgrid_wants_it() -> None:
    body = build_body(message(), [recipient(1), recipient(2, name="Lovelace, Ada; Countess")])

    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert body["headers"] == {"List-Id": "Weekly AI Tool Verdicts <verdicts.example.com>"}
    assert body["categories"] == ["issue", "issue-7"]
    assert body["custom_args"] == {"issue": "7", "batch": "1"}
    first, second = body["personalizations"]
    assert first["to"] == [{"email": "reader1@example.com", "name": "Reader 1"}]
    assert second["to"][0]["name"] == "Lovelace Ada Countess"  # ';' and ',' are refused
    assert first["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["custom_args"] == {"subscriber": "1"}
    assert "mail_settings" not in body
    sandboxed = build_body(message(sandbox=True), [recipient(1)])
    assert sandboxed["mail_settings"] == {"sandbox_mode": {"enable": True}}


def test_message_level_limits_stop_the_send() -> None:
    with pytest.raises(LimitError) as caught:
        check_message(message(categories=tuple(f"c{i}" for i in range(11))))
    assert caught.value.stops_send
    with pytest.raises(LimitError) as per_recipient:
        build_body(message(), [recipient(1, substitutions={"%%x%%": "y" * 10_001})])
    assert not per_recipient.value.stops_send


# ------------------------------------------------------- the sender's fast request path


def test_the_fast_body_is_the_dict_body() -> None:
    p = personalizer()
    batch = PersonalizedBatch(p, ROWS)
    msg = message(custom_args={"issue": "7", "batch": "12"}, sandbox=True)

    fast = json.loads(encode_request(msg, batch))

    assert fast == build_body(msg, [p.recipient(*row) for row in ROWS])
    assert list(batch) == [p.recipient(*row) for row in ROWS]  # any backend sees Recipients


def test_the_fast_path_is_refused_like_the_dict_path() -> None:
    batch = PersonalizedBatch(personalizer(site="https://x.example/" + "p" * 2000), ROWS[:1])
    with pytest.raises(LimitError, match="substitutions"):
        encode_request(message(), batch)
    with pytest.raises(LimitError, match="categories"):
        encode_request(message(categories=("a",) * 11), PersonalizedBatch(personalizer(), ROWS))


# ----------------------------------------------------------------------------- tokens
# The fast path writes tokens into the JSON unescaped and sizes them by TOKEN_MAX_CHARS:
# it relies on the token format these tests pin down.


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
