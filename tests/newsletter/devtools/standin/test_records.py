"""What the stand-in keeps of accepted requests: duplicates visible, or counters only."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
import sendgrid

from newsletter.devtools.standin import StandIn
from tests.newsletter.devtools.standin.helpers import (
    KEY,
    control,
    mail,
    send,
)


def test_duplicates_across_requests_are_visible(standin: StandIn, sg: Any) -> None:
    first = send(sg, mail()).headers["X-Message-Id"]
    second = send(sg, mail()).headers["X-Message-Id"]

    assert first != second
    assert standin.recipients().count("grace@example.com") == 2
    assert len(standin.rendered_for("grace@example.com")) == 2
    stats = standin.stats()
    assert (stats.accepted_requests, stats.accepted_personalizations) == (2, 4)


def test_count_mode_keeps_counters_only(monkeypatch: pytest.MonkeyPatch) -> None:
    with StandIn(api_keys=[KEY], record="count") as counting:
        client = sendgrid.SendGridAPIClient(api_key=KEY, host=counting.url)
        client.client.timeout = 5
        body = mail()
        for _ in range(3):
            assert send(client, body).status_code == 202

        stats = counting.stats()
        assert (stats.accepted_requests, stats.accepted_personalizations) == (3, 6)
        assert stats.accepted_bytes == 3 * len(json.dumps(body).encode())
        assert counting.recorder.kept == 0
        with pytest.raises(RuntimeError, match="count"):
            counting.recipients()
        with pytest.raises(urllib.error.HTTPError) as caught:
            control(counting, "GET", "accepted")
        assert caught.value.code == 409
