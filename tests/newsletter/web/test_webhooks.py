"""POST /webhooks/sendgrid on the real app under uvicorn, on both databases: no key means
503; a doubtful signature means 403, one answer for every cause; a malformed body 400; a
body over 5 MB 413 without reading past it; a signed POST is stored once. Nothing refused
leaves a row in `delivery_event`."""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlmodel import select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings, SettingsError
from newsletter.delivery.events import WEBHOOK_MAX_BYTES
from newsletter.devtools.standin.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSigner
from newsletter.tracking.models import StoredEvent
from newsletter.web.app import create_app
from tests.conftest import serve
from tests.newsletter.delivery.providers.sendgrid.event_samples import body, event

URL = "/webhooks/sendgrid"
EVENTS = body(event("processed"), event("delivered"), event("open"), event("click"))


@pytest.fixture(scope="module")
def signer() -> WebhookSigner:
    return WebhookSigner()


@pytest.fixture
def port(settings: Settings, engine: Engine, signer: WebhookSigner) -> Iterator[int]:
    """The app with the signer's public key configured, as SendGrid's settings show it."""
    settings.sendgrid_webhook_public_key = signer.public_key
    with serve(create_app(settings, engine)) as running:
        yield running


@pytest.fixture
def client(port: int) -> Iterator[httpx.Client]:
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as http:
        yield http


def stored(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return sorted(session.exec(select(StoredEvent.event_id)))


def count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.exec(select(func.count()).select_from(StoredEvent)).one()


def post(client: httpx.Client, data: bytes, headers: dict[str, str]) -> httpx.Response:
    return client.post(URL, content=data, headers={"Content-Type": "application/json", **headers})


# No key.


def test_without_a_key_nothing_is_taken(
    http: httpx.Client, engine: Engine, signer: WebhookSigner
) -> None:
    for headers in (signer.headers(EVENTS), {}):
        answer = post(http, EVENTS, headers)
        assert answer.status_code == 503
        assert "no key" in answer.json()["detail"]
    assert count(engine) == 0


def test_a_key_that_is_not_one_stops_the_app_at_start(settings: Settings) -> None:
    settings.sendgrid_webhook_public_key = "bm90IGEga2V5"
    with pytest.raises(SettingsError, match=r"^SENDGRID_WEBHOOK_PUBLIC_KEY: not a public key"):
        create_app(settings)


# Refused.


def _doubtful(signer: WebhookSigner) -> dict[str, tuple[bytes, dict[str, str]]]:
    good = signer.headers(EVENTS)
    changed = bytearray(EVENTS)
    changed[40] ^= 0x01
    now = int(time.time())
    return {
        "forged": (EVENTS, WebhookSigner().headers(EVENTS)),
        "no signature": (EVENTS, {TIMESTAMP_HEADER: good[TIMESTAMP_HEADER]}),
        "no timestamp": (EVENTS, {SIGNATURE_HEADER: good[SIGNATURE_HEADER]}),
        "no headers": (EVENTS, {}),
        "stale": (EVENTS, signer.headers(EVENTS, timestamp=now - 601)),
        "future": (EVENTS, signer.headers(EVENTS, timestamp=now + 120)),
        "one byte changed": (bytes(changed), good),
        "garbled": (EVENTS, good | {SIGNATURE_HEADER: "%%%"}),
        "not a number": (
            EVENTS,
            {SIGNATURE_HEADER: signer.signature(EVENTS, "soon"), TIMESTAMP_HEADER: "soon"},
        ),
    }


def test_every_doubtful_request_gets_one_and_the_same_403(
    client: httpx.Client, engine: Engine, signer: WebhookSigner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="newsletter.web.errors")
    cases = _doubtful(signer)
    answers = {name: post(client, data, headers) for name, (data, headers) in cases.items()}
    assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(cases, 403)
    assert len({a.content for a in answers.values()}) == 1
    first = next(iter(answers.values()))
    assert first.headers["content-type"] == "application/json"
    assert first.headers["x-content-type-options"] == "nosniff"
    assert first.json() == {"detail": "the request is not signed by the provider"}
    assert count(engine) == 0
    logged = " | ".join(r.getMessage() for r in caplog.records)
    for cause in ("does not match", "missing", "s ahead", "not base64", "unix"):
        assert cause in logged
    # 601 s when signed; a second or two more by the time a loaded machine checks it
    assert re.search(r"\b60[1-9] s old", logged), logged


def test_the_signature_is_the_only_credential(
    client: httpx.Client, engine: Engine, signer: WebhookSigner
) -> None:
    """An admin token or a session cookie does not make a forged request pass."""
    forged = WebhookSigner().headers(EVENTS)
    answer = post(client, EVENTS, forged | {"Authorization": "Bearer admin-test-token"})
    assert answer.status_code == 403
    assert count(engine) == 0


# Malformed, too large.


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"not json", "not JSON"),
        (b'{"event": "open"}', "not an array of events"),
        (b'[{"event": "open", "timestamp": 1}, 7]', "event 1: a JSON int"),
    ],
)
def test_a_signed_body_that_is_not_events_is_400_naming_the_problem(
    client: httpx.Client, engine: Engine, signer: WebhookSigner, data: bytes, problem: str
) -> None:
    answer = post(client, data, signer.headers(data))
    assert answer.status_code == 400
    assert problem in answer.json()["detail"]
    assert count(engine) == 0


def _exchange(port: int, request: bytes) -> tuple[int, bytes]:
    """Send raw bytes, read until the server closes: (status, whole answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1]), answer


def _head(headers: dict[str, str]) -> bytes:
    lines = [f"POST {URL} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_declared_length_over_5_mb_is_413_before_the_body_is_sent(
    port: int, engine: Engine, signer: WebhookSigner
) -> None:
    """Only the headers go out: the answer comes without the server waiting for a byte of
    the body it would refuse."""
    head = _head(signer.headers(EVENTS) | {"Content-Length": str(WEBHOOK_MAX_BYTES + 1)})
    code, answer = _exchange(port, head)
    assert code == 413
    assert b"at most 5242880" in answer
    assert count(engine) == 0


def test_a_chunked_body_over_5_mb_is_413_as_soon_as_it_passes(
    port: int, engine: Engine, signer: WebhookSigner
) -> None:
    """No length declared (chunked): the server counts as it reads, and answers once it
    has one byte too many, while the client has not even finished the body."""
    size = WEBHOOK_MAX_BYTES + 1
    head = _head(signer.headers(EVENTS) | {"Transfer-Encoding": "chunked"})
    chunk = f"{size:x}\r\n".encode() + b"[" + b" " * (size - 1) + b"\r\n"
    code, answer = _exchange(port, head + chunk)  # no last chunk: the body never ends
    assert code == 413
    assert b"over 5242880" in answer
    assert count(engine) == 0


def test_a_body_of_exactly_5_mb_is_read_and_checked(
    client: httpx.Client, engine: Engine, signer: WebhookSigner
) -> None:
    """At the limit the size passes and the signature decides (here: a forged one)."""
    data = b"[" + b" " * (WEBHOOK_MAX_BYTES - 2) + b"]"
    answer = post(client, data, WebhookSigner().headers(data))
    assert answer.status_code == 403
    unsigned_chunks = client.post(URL, content=iter([data[:1000], data[1000:]]))
    assert unsigned_chunks.status_code == 403
    assert count(engine) == 0


def test_a_length_that_lies_is_not_waited_for_forever_and_stores_nothing(
    port: int, engine: Engine, signer: WebhookSigner
) -> None:
    """5 MB declared, a few bytes sent, then the client stops sending: the body is
    incomplete, so nothing is checked or stored, and the server answers rather than hang."""
    head = _head(signer.headers(EVENTS) | {"Content-Length": str(WEBHOOK_MAX_BYTES)})
    with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
        conn.sendall(head + EVENTS)
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert answer == b"" or int(answer.split(b" ", 2)[1]) == 400
    assert count(engine) == 0


# Taken (needs `tracking.ingest`).


def test_a_signed_post_is_stored_once_however_often_it_comes(
    client: httpx.Client, engine: Engine, signer: WebhookSigner
) -> None:
    first = post(client, EVENTS, signer.headers(EVENTS))
    assert first.status_code == 200, first.text
    counts = first.json()
    assert (counts["received"], counts["stored"], counts["duplicates"]) == (4, 4, 0)
    assert set(counts) == {
        "received",
        "stored",
        "duplicates",
        "unmatched",
        "settled",
        "suppressed",
        "unsubscribed",
        "paused",
    }
    ids = [e["sg_event_id"] for e in json.loads(EVENTS)]
    assert stored(engine) == sorted(ids)
    again = post(client, EVENTS, signer.headers(EVENTS))
    assert again.status_code == 200, again.text
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 4)
    assert stored(engine) == sorted(ids)


def test_an_unknown_type_and_a_junk_custom_arg_are_taken_not_refused(
    client: httpx.Client, engine: Engine, signer: WebhookSigner
) -> None:
    """Answered 2xx, so SendGrid does not retry them for a day."""
    data = body(event("delivered", event="amp_open"), event("open", 1, issue="seven"))
    answer = post(client, data, signer.headers(data))
    assert answer.status_code == 200, answer.text
    assert answer.json()["received"] == 2
    assert stored(engine) == ["ev-delivered-0", "ev-open-1"]
