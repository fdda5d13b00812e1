"""The /_standin/* routes, from plain urllib as another process would call them."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import pytest
from python_http_client import exceptions as sg_errors

from newsletter.devtools.standin import StandIn
from tests.newsletter.devtools.standin.helpers import (
    control,
    mail,
    send,
)


def test_control_routes_from_plain_urllib(standin: StandIn, sg: Any) -> None:
    state = control(standin, "POST", "faults", {"fault": "error", "status": 503, "count": 2})
    assert state["queue"] == [{"fault": "error", "status": 503, "count": 2}]
    with pytest.raises(sg_errors.ServiceUnavailableError):
        send(sg, mail())
    assert control(standin, "GET", "faults")["queue"][0]["count"] == 1
    assert control(standin, "DELETE", "faults") == {"queue": [], "default": None}

    message_id = send(sg, mail()).headers["X-Message-Id"]

    accepted = control(standin, "GET", "accepted")
    assert accepted["recipients"] == ["ada@example.com", "grace@example.com"]
    assert accepted["deliveries"][1] == {
        "email": "grace@example.com",
        "message_id": message_id,
        "custom_args": {"issue": "override", "subscriber_id": "2"},
    }
    [summary] = accepted["requests"]
    assert summary["message_id"] == message_id
    assert "html" not in summary
    with_content = control(standin, "GET", "accepted?content=1")
    assert with_content["requests"][0]["text"] == "Hi -first-, unsubscribe: -unsub-"

    stats = control(standin, "GET", "stats")
    assert stats["requests"] == 2
    assert stats["accepted_recipients"] == 2

    control(standin, "POST", "faults", {"fault": "drop_before", "default": True})
    assert control(standin, "GET", "faults")["default"] == {"fault": "drop_before"}

    assert control(standin, "POST", "reset") == {"reset": True}
    assert control(standin, "GET", "accepted")["recipients"] == []
    assert control(standin, "GET", "faults") == {"queue": [], "default": None}


def test_control_routes_refuse_bad_input(standin: StandIn) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        control(standin, "POST", "faults", {"fault": "explode"})
    assert caught.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as caught:
        control(standin, "GET", "reset")
    assert caught.value.code == 405
    with pytest.raises(urllib.error.HTTPError) as caught:
        control(standin, "GET", "nothing-here")
    assert caught.value.code == 404
