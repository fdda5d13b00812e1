"""A running stand-in (two keys) and a real client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sendgrid

from newsletter.devtools.standin import StandIn
from tests.newsletter.devtools.standin.helpers import KEY


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn(api_keys=(KEY, "second-key")) as running:
        yield running


@pytest.fixture
def sg(standin: StandIn) -> sendgrid.SendGridAPIClient:
    client = sendgrid.SendGridAPIClient(api_key=KEY, host=standin.url)
    client.client.timeout = 5
    return client
