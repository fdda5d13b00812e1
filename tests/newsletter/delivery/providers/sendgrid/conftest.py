"""A running SendGrid stand-in for the tests that send through the real client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from newsletter.devtools.standin import StandIn
from tests.newsletter.delivery.providers.sendgrid.samples import KEY


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn(api_keys=[KEY]) as running:
        yield running
