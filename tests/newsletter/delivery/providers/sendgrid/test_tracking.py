"""Tracking through the real `sendgrid` package to the stand-in: a request with tracking
on or off is accepted, and what arrives has its action links marked."""

from __future__ import annotations

import json

import pytest

from newsletter.delivery import PersonalizedBatch
from newsletter.delivery.providers.sendgrid import SendGridBackend, encode_request
from newsletter.delivery.providers.sendgrid.links import MARK
from newsletter.devtools.standin import StandIn
from newsletter.devtools.standin.validation import validate_mail_send
from tests.newsletter.delivery.providers.sendgrid.samples import (
    KEY,
    ROWS,
    message,
    personalizer,
)

HTML = (
    '<p><a href="https://tool.example/">a tool</a> <a href="%%vote_1_1%%">vote</a> '
    '<a href="%%unsubscribe_url%%">unsubscribe</a> <a href="%%view_url%%">view</a></p>'
)


@pytest.mark.parametrize("tracking", [True, False])
def test_a_tracked_or_untracked_request_is_accepted_with_its_links_marked(
    standin: StandIn, tracking: bool
) -> None:
    p = personalizer()
    backend = SendGridBackend(KEY, standin.url, 10)
    msg = message(html=HTML, tracking=tracking)
    rows = ROWS[:2]

    message_id = backend.send_batch(msg, PersonalizedBatch(p, rows))

    [request] = standin.requests
    assert message_id == request.message_id
    assert request.html is not None
    assert request.html.count(MARK) == 3
    assert '<a href="https://tool.example/">' in request.html
    for _, html in standin.rendered_for(rows[0][1]):
        assert f'<a{MARK} href="{p.view_url}">' in html
        assert f'<a{MARK} href="{p.unsubscribe_base}' in html
    body = json.loads(encode_request(msg, PersonalizedBatch(p, rows)))
    assert validate_mail_send(body)[0] == []
    assert body["tracking_settings"]["click_tracking"]["enable"] is tracking
    assert body["tracking_settings"]["open_tracking"]["enable"] is tracking
