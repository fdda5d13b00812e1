"""The SendGrid backend on its own: the request it builds, the limits it enforces before
sending, and how it reads every outcome of the real client against the stand-in."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from python_http_client import exceptions as http_errors

from newsletter.core.settings import Settings
from newsletter.delivery import (
    AmbiguousOutcome,
    Message,
    PermanentFailure,
    PersonalizedBatch,
    Recipient,
    TransientFailure,
)
from newsletter.delivery.headers import unsubscribe_headers
from newsletter.delivery.providers.sendgrid.backend import (
    BUILD_PROCESS_MINIMUM,
    LimitError,
    SendGridBackend,
    build_body,
    check_message,
    classify,
    encode_request,
)
from newsletter.devtools.standin import StandIn
from newsletter.links.personalize import Personalizer, VoteSlot
from newsletter.links.tokens import IssueTokens, Purpose, Signer
from newsletter.publishing.models import Issue

KEY = "test-key"


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn(api_keys=[KEY]) as running:
        yield running


def message(**changes: Any) -> Message:
    base: dict[str, Any] = {
        "subject": "Verdicts #7",
        "html": '<p>Hi</p><a href="%%unsubscribe_url%%">unsubscribe</a>',
        "text": "Hi. Unsubscribe: %%unsubscribe_url%%",
        "from_email": "verdicts@example.com",
        "from_name": "Weekly AI Tool Verdicts",
        "list_id": "Weekly AI Tool Verdicts <verdicts.example.com>",
        "categories": ("issue", "issue-7"),
        "custom_args": {"issue": "7", "batch": "1"},
    }
    base.update(changes)
    return Message(**base)


def recipient(i: int, **changes: Any) -> Recipient:
    url = f"https://verdicts.example.com/unsubscribe/tok{i}"
    base: dict[str, Any] = {
        "subscriber_id": i,
        "email": f"reader{i}@example.com",
        "name": f"Reader {i}",
        "substitutions": {"%%unsubscribe_url%%": url},
        "headers": unsubscribe_headers(url),
        "custom_args": {"subscriber": str(i)},
    }
    base.update(changes)
    return Recipient(**base)


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


@pytest.mark.parametrize(
    ("recipients", "msg", "expected"),
    [
        pytest.param(
            [recipient(i) for i in range(1001)], message(), "1001 personalizations", id="1001"
        ),
        pytest.param([], message(), "at least one recipient", id="empty"),
        pytest.param(
            [recipient(1, substitutions={"%%x%%": "y" * 10_000})],
            message(),
            "substitutions",
            id="substitutions-over-10000-bytes",
        ),
        pytest.param(
            [recipient(1, custom_args={"blob": "z" * 4_000})],
            message(custom_args={"issue": "7", "big": "w" * 6_000}),
            "custom_args",
            id="custom-args-with-the-message-over-10000-bytes",
        ),
        pytest.param(
            [recipient(1, headers={"Reply-To": "x@example.com"})],
            message(),
            "reserved",
            id="reserved-recipient-header",
        ),
        pytest.param(
            [recipient(1)],
            message(categories=tuple(f"c{i}" for i in range(11))),
            "11 categories",
            id="11-categories",
        ),
        pytest.param(
            [recipient(1)], message(categories=("a", "a")), "unique", id="duplicate-category"
        ),
        pytest.param(
            [recipient(1)], message(categories=("café",)), "ASCII", id="non-ascii-category"
        ),
        pytest.param(
            [recipient(1)], message(headers={"DKIM-Signature": "x"}), "reserved", id="reserved"
        ),
        pytest.param([recipient(1)], message(text=""), "text and an HTML", id="no-text"),
    ],
)
def test_limits_are_refused_before_anything_is_sent(
    standin: StandIn, recipients: list[Recipient], msg: Message, expected: str
) -> None:
    backend = SendGridBackend(KEY, standin.url, 5)

    with pytest.raises(LimitError, match=expected):
        backend.send_batch(msg, recipients)

    assert standin.stats().requests == 0


def test_message_level_limits_stop_the_send() -> None:
    with pytest.raises(LimitError) as caught:
        check_message(message(categories=tuple(f"c{i}" for i in range(11))))
    assert caught.value.stops_send
    with pytest.raises(LimitError) as per_recipient:
        build_body(message(), [recipient(1, substitutions={"%%x%%": "y" * 10_001})])
    assert not per_recipient.value.stops_send


def test_exactly_1000_personalizations_are_accepted(standin: StandIn) -> None:
    backend = SendGridBackend(KEY, standin.url, 10)

    message_id = backend.send_batch(message(), [recipient(i) for i in range(1000)])

    assert message_id == standin.requests[0].message_id
    assert len(standin.recipients()) == 1000


def test_sandbox_answers_200_without_a_message_id(standin: StandIn) -> None:
    backend = SendGridBackend(KEY, standin.url, 5)

    assert backend.send_batch(message(sandbox=True), [recipient(1)]) == ""
    assert standin.stats().sandboxed_personalizations == 1
    assert standin.stats().accepted_requests == 0


def test_each_thread_gets_its_own_client(standin: StandIn) -> None:
    """The package mutates a per-client headers dict: never share one across threads."""
    import threading

    backend = SendGridBackend(KEY, standin.url, 5)
    clients: list[Any] = []
    thread = threading.Thread(target=lambda: clients.append(backend._client()))
    thread.start()
    thread.join()

    assert clients[0] is not backend._client()
    assert backend._client() is backend._client()
    assert backend._client().client.timeout == 5


def test_a_key_is_required() -> None:
    with pytest.raises(Exception, match="SENDGRID_API_KEY"):
        SendGridBackend("", "http://127.0.0.1:1", 5)


# --------------------------------------------------------------------------- outcomes


@pytest.mark.parametrize(
    ("fault", "params", "kind", "status"),
    [
        ("rate_limit", {"reset_in": 30}, TransientFailure, 429),
        ("rate_limit", {"headers": False}, TransientFailure, 429),
        ("error", {"status": 500}, TransientFailure, 500),
        ("error", {"status": 502}, TransientFailure, 502),
        ("error", {"status": 503}, TransientFailure, 503),
        ("error", {"status": 504}, TransientFailure, 504),
        ("error", {"status": 400, "message": "bad field"}, PermanentFailure, 400),
        ("error", {"status": 413}, PermanentFailure, 413),
        ("error", {"status": 401}, PermanentFailure, 401),
        ("error", {"status": 403}, PermanentFailure, 403),
        ("drop", {}, AmbiguousOutcome, None),
        ("drop_before", {}, AmbiguousOutcome, None),  # the client cannot tell it from drop
    ],
)
def test_every_answer_is_classified(
    standin: StandIn, fault: str, params: dict[str, Any], kind: type[Exception], status: int | None
) -> None:
    standin.inject(fault, **params)
    backend = SendGridBackend(KEY, standin.url, 5)

    with pytest.raises(kind) as caught:
        backend.send_batch(message(), [recipient(1)])

    failure = caught.value
    assert type(failure) is kind
    assert getattr(failure, "status", None) == status
    if status is not None:
        assert f"SendGrid answered {status}" in str(failure)
    if status == 400:
        assert "bad field" in str(failure)
    if isinstance(failure, PermanentFailure):
        assert failure.stops_send == (status in (401, 403))
    if isinstance(failure, TransientFailure) and status == 429:
        assert failure.rate_limited
        assert (failure.retry_at is not None) == params.get("headers", True)


def test_a_timeout_is_ambiguous(standin: StandIn) -> None:
    standin.inject("slow", seconds=0.5)
    backend = SendGridBackend(KEY, standin.url, 0.1)

    with pytest.raises(AmbiguousOutcome, match="timeout"):
        backend.send_batch(message(), [recipient(1)])


def test_a_refused_connection_is_safe_to_retry() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = SendGridBackend(KEY, f"http://127.0.0.1:{port}", 5)

    with pytest.raises(TransientFailure, match="could not connect"):
        backend.send_batch(message(), [recipient(1)])


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (urllib.error.URLError(ConnectionRefusedError(111, "refused")), TransientFailure),
        (urllib.error.URLError(socket.gaierror(-2, "unknown name")), TransientFailure),
        (urllib.error.URLError(TimeoutError("timed out")), AmbiguousOutcome),
        (urllib.error.URLError(ConnectionResetError(104, "reset")), AmbiguousOutcome),
        (urllib.error.URLError(BrokenPipeError(32, "broken pipe")), AmbiguousOutcome),
        (TimeoutError("timed out"), AmbiguousOutcome),
        (http.client.RemoteDisconnected("closed"), AmbiguousOutcome),
        (http.client.IncompleteRead(b""), AmbiguousOutcome),
        (ConnectionRefusedError(111, "refused"), TransientFailure),
    ],
)
def test_network_errors_are_ambiguous_unless_nothing_was_sent(
    exc: BaseException, kind: type[Exception]
) -> None:
    assert type(classify(exc)) is kind


def test_other_http_errors_and_bugs() -> None:
    not_found = http_errors.HTTPError(404, "Not Found", b'{"errors":[{"message":"no"}]}', {})
    assert type(classify(not_found)) is PermanentFailure
    assert classify(KeyError("x")) is None  # a bug is raised, not classified


# ----------------------------------------------------------------------------- tokens


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


# ------------------------------------------------------- the sender's fast request path


def personalizer(site: str = "https://verdicts.example.com") -> Personalizer:
    issue = Issue(id=3, number=7, week="2026-W48")
    slots = [VoteSlot(f"%%vote_{c}_{t}%%", 10 + c, 20 + t) for c in (1, 2, 3) for t in (1, 2)]
    settings = Settings(site_url=site, _env_file=None)  # type: ignore[call-arg]
    return Personalizer(issue, slots, settings, Signer(b"secret"))


ROWS = [
    (1, "ada@example.com", "Ada Lovelace"),
    (2, "grace@example.com", None),
    (300, "o'neil+tag@example.com", 'Lovelace, "Ada"; Countess'),
    (2**31, "zoë@exämple.com", "Zoë Ünïcode"),
    (45, "back\\slash@example.com", ""),
]


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


def test_build_processes_send_the_same_request(standin: StandIn) -> None:
    p = personalizer()
    backend = SendGridBackend(KEY, standin.url, 10, build_processes=1)
    backend.prepare(10)  # too small a send to start them
    assert backend._pool is None
    backend.prepare(BUILD_PROCESS_MINIMUM)
    assert backend._pool is not None
    valid = ROWS[:4]  # SendGrid refuses a backslash in an address
    try:
        backend.send_batch(message(), PersonalizedBatch(p, valid))
        with pytest.raises(LimitError) as caught:  # raised over there, intact here
            backend.send_batch(message(categories=("a",) * 11), PersonalizedBatch(p, valid))
    finally:
        backend.close()

    assert caught.value.stops_send
    [request] = standin.requests
    assert [q.to for q in request.personalizations] == [(r[1].lower(),) for r in valid]
    assert request.personalizations[0].substitutions == p.recipient(*ROWS[0]).substitutions
