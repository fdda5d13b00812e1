"""How every failure the `sendgrid` package and the network raise is read, on its own;
the same outcomes through the real client are in `test_backend`."""

from __future__ import annotations

import http.client
import socket
import urllib.error

import pytest
from python_http_client import exceptions as http_errors

from newsletter.delivery import AmbiguousOutcome, PermanentFailure, TransientFailure
from newsletter.delivery.providers.sendgrid import classify


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
