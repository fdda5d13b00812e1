"""The stand-in's lifetime: reset to as-new, stopped and started again."""

from __future__ import annotations

from typing import Any

import pytest
import sendgrid

from newsletter.devtools.standin import StandIn
from tests.newsletter.devtools.standin.helpers import (
    KEY,
    mail,
    send,
)


def test_reset_and_restart(standin: StandIn, sg: Any) -> None:
    send(sg, mail())
    standin.inject("drop")
    standin.reset()
    assert standin.requests == []
    assert standin.stats().requests == 0
    assert send(sg, mail()).status_code == 202

    standin.stop()
    with pytest.raises(RuntimeError):
        _ = standin.url
    url = standin.start()
    client = sendgrid.SendGridAPIClient(api_key=KEY, host=url)
    client.client.timeout = 5
    assert send(client, mail()).status_code == 202
