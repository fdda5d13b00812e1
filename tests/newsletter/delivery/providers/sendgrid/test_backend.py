"""The SendGrid backend against the stand-in, through the real client: limits refused
before sending, what an accepted request returns, one client per thread, every outcome
read as the sender needs it, and the build processes."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest
from python_http_client import exceptions as http_errors

from newsletter.delivery import (
    AmbiguousOutcome,
    Message,
    PermanentFailure,
    PersonalizedBatch,
    Recipient,
    TransientFailure,
    placeholders,
)
from newsletter.delivery.headers import LIST_UNSUBSCRIBE
from newsletter.delivery.providers.sendgrid import (
    BUILD_PROCESS_MINIMUM,
    LimitError,
    SendGridBackend,
)
from newsletter.devtools.standin import StandIn
from tests.newsletter.delivery.providers.sendgrid.samples import (
    KEY,
    ROWS,
    message,
    personalizer,
    recipient,
)


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


def test_as_failure_takes_the_failures_send_batch_raises_and_nothing_else() -> None:
    backend = SendGridBackend(KEY, "http://127.0.0.1:1", 5)
    raised = TransientFailure("SendGrid answered 503", status=503)
    unclassified = http_errors.HTTPError(503, "Service Unavailable", b"", {})

    assert backend.as_failure(raised) is raised
    # send_batch classifies the package's errors itself; one that escaped it is a bug
    assert backend.as_failure(unclassified) is None
    assert backend.as_failure(KeyError("x")) is None  # a bug: the batch's fate is unknown


# ------------------------------------------------------------------- build processes


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
    first = p.recipient(*ROWS[0])
    text, _ = request.render(request.personalizations[0])  # what the recipient reads
    assert text == placeholders.fill(message().text, first.substitutions)
    assert request.personalizations[0].headers[LIST_UNSUBSCRIBE] == first.headers[LIST_UNSUBSCRIBE]
