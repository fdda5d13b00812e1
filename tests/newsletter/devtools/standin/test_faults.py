"""Scripted faults as the real client sees them: the statuses, exceptions and headers, the
slow answers and dropped connections that make an outcome ambiguous.
"""

from __future__ import annotations

import http.client
import time
from typing import Any

import pytest
from python_http_client import exceptions as sg_errors

from newsletter.devtools.standin import StandIn
from tests.newsletter.devtools.standin.helpers import (
    error_fields,
    mail,
    send,
)


def test_rate_limit_with_headers(standin: StandIn, sg: Any) -> None:
    standin.inject("rate_limit", reset_in=30, limit=100)

    with pytest.raises(sg_errors.TooManyRequestsError) as caught:
        send(sg, mail())

    headers = caught.value.headers
    assert caught.value.status_code == 429
    assert headers["X-RateLimit-Limit"] == "100"
    assert headers["X-RateLimit-Remaining"] == "0"
    assert abs(int(headers["X-RateLimit-Reset"]) - (time.time() + 30)) <= 2
    assert error_fields(caught.value) == [None]
    assert standin.requests == []
    assert send(sg, mail()).status_code == 202  # the fault was used up


def test_rate_limit_without_headers(sg: Any, standin: StandIn) -> None:
    standin.inject("rate_limit", headers=False)

    with pytest.raises(sg_errors.TooManyRequestsError) as caught:
        send(sg, mail())

    assert caught.value.headers["X-RateLimit-Reset"] is None


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (500, sg_errors.InternalServerError),
        (502, sg_errors.HTTPError),  # no subclass for 502 in python_http_client
        (503, sg_errors.ServiceUnavailableError),
        (504, sg_errors.GatewayTimeoutError),
        (400, sg_errors.BadRequestsError),
        (401, sg_errors.UnauthorizedError),
        (403, sg_errors.ForbiddenError),
        (413, sg_errors.PayloadTooLargeError),
    ],
)
def test_error_fault(standin: StandIn, sg: Any, status: int, exception: type[Exception]) -> None:
    standin.inject("error", status=status)

    with pytest.raises(exception) as caught:
        send(sg, mail())

    assert type(caught.value) is exception
    assert caught.value.status_code == status  # type: ignore[attr-defined]
    assert standin.requests == []


def test_faults_apply_in_order_then_stop(standin: StandIn, sg: Any) -> None:
    standin.inject("rate_limit", count=2)
    standin.inject("error", status=503)
    seen = []
    for _ in range(4):
        try:
            seen.append(send(sg, mail()).status_code)
        except sg_errors.HTTPError as exc:
            seen.append(exc.status_code)
    assert seen == [429, 429, 503, 202]
    assert standin.stats().faults_applied == 3


def test_default_fault_until_cleared(standin: StandIn, sg: Any) -> None:
    standin.set_default_fault("error", status=500)
    for _ in range(2):
        with pytest.raises(sg_errors.InternalServerError):
            send(sg, mail())
    standin.clear_faults()
    assert send(sg, mail()).status_code == 202


def test_slow_answer_within_the_timeout_is_accepted(standin: StandIn, sg: Any) -> None:
    standin.inject("slow", seconds=0.1)
    assert send(sg, mail()).status_code == 202
    assert len(standin.requests) == 1


def test_slow_answer_past_the_timeout_raises_timeout_yet_is_accepted(
    standin: StandIn, sg: Any
) -> None:
    standin.inject("slow", seconds=0.5)

    with pytest.raises(TimeoutError):  # raw socket timeout, not wrapped in URLError
        send(sg, mail(), timeout=0.15)

    deadline = time.monotonic() + 3
    while not standin.stats().accepted_requests and time.monotonic() < deadline:
        time.sleep(0.02)
    assert standin.recipients() == ["ada@example.com", "grace@example.com"]


def test_drop_after_accepting(standin: StandIn, sg: Any) -> None:
    standin.inject("drop")

    with pytest.raises(http.client.RemoteDisconnected) as caught:
        send(sg, mail())

    assert isinstance(caught.value, ConnectionResetError)
    assert standin.recipients() == ["ada@example.com", "grace@example.com"]


def test_drop_before_accepting(standin: StandIn, sg: Any) -> None:
    standin.inject("drop_before")

    with pytest.raises(http.client.RemoteDisconnected):
        send(sg, mail())

    assert standin.requests == []
    assert send(sg, mail()).status_code == 202


@pytest.mark.parametrize(
    ("fault", "params"),
    [
        ("explode", {}),
        ("error", {"status": 418}),
        ("slow", {"seconds": -1}),
        ("drop", {"seconds": 1}),
        ("rate_limit", {"headers": "no"}),
    ],
)
def test_bad_fault_specs_are_refused(standin: StandIn, fault: str, params: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        standin.inject(fault, **params)
    with pytest.raises(ValueError, match="count"):
        standin.inject("drop", count=0)
