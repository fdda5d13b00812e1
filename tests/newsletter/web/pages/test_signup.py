"""The sign-up form and its confirmation email."""

from __future__ import annotations

import time

import httpx
from sqlalchemy import Engine

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from subscribers.models import Source
from subscribers.service import add_subscriber, find_subscriber
from tests.newsletter.web.helpers import (
    eml,
    subscriber_of,
    wait_for,
)


def test_the_form_answers_the_same_for_known_and_unknown_addresses(
    http: httpx.Client, engine: Engine, settings: Settings
) -> None:
    with session_scope(engine) as session:
        add_subscriber(session, "known@example.com", source=Source.CLI, confirmed=True)
        add_subscriber(session, "bounced@example.com", source=Source.CLI, confirmed=True)
    with session_scope(engine) as session:
        from subscribers.status import change_status

        row = find_subscriber(session, "bounced@example.com")
        assert row is not None
        change_status(session, row, "bounced", reason="hard bounce", source=Source.WEBHOOK)  # type: ignore[arg-type]

    def body(address: str) -> tuple[int, str]:
        response = http.post("/subscribe", data={"email": address})
        return response.status_code, response.text.replace(address, "ADDRESS")

    assert body("known@example.com") == body("new@example.com") == body("bounced@example.com")
    bounced = subscriber_of(engine, "bounced@example.com")
    assert bounced is not None
    assert bounced.status == "bounced"  # never revived
    bad = http.post("/subscribe", data={"email": "not an address"})
    assert bad.status_code == 422
    assert 'aria-invalid="true"' in bad.text
    trap = http.post("/subscribe", data={"email": "bot@example.com", "website": "spam"})
    assert trap.status_code == 200
    assert subscriber_of(engine, "bot@example.com") is None


def test_repeated_posts_send_one_confirmation(http: httpx.Client, settings: Settings) -> None:
    assert http.post("/subscribe", data={"email": "eager@example.com"}).status_code == 200
    [first] = wait_for(settings.outbox_dir, "*eager@example.com.eml")
    written = first.stat().st_mtime_ns
    assert eml(first)["Subject"].startswith("Confirm your subscription")
    for _ in range(2):
        assert http.post("/subscribe", data={"email": "eager@example.com"}).status_code == 200
    time.sleep(0.5)  # had another email been due, the outbox would have rewritten the file
    assert first.stat().st_mtime_ns == written
