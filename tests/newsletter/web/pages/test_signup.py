"""The sign-up form and its confirmation email."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.links.tokens import Signer
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


def _confirm(http: httpx.Client, engine: Engine, settings: Settings, address: str) -> str:
    with session_scope(engine) as session:
        pending = add_subscriber(session, address, source=Source.FORM, confirmed=False)
        session.flush()
        token = Signer(settings.secret()).confirm_token(pending.id or 0)
    answer = http.get(f"/confirm/{token}")
    assert answer.status_code == 200
    active = subscriber_of(engine, address)
    assert active is not None
    assert active.status == "active"
    return unescape(answer.text)


def _next_thursday_0630(zone: str) -> datetime:
    """Worked out by hand, not through the scheduler's cron trigger."""
    now = datetime.now(ZoneInfo(zone))
    day = now + timedelta(days=(3 - now.weekday()) % 7)
    fires = day.replace(hour=6, minute=30, second=0, microsecond=0)
    return fires if fires > now else fires + timedelta(days=7)


def test_the_welcome_page_names_the_next_send_day_from_the_schedule(
    http: httpx.Client, engine: Engine, settings: Settings
) -> None:
    settings.schedule, settings.timezone = "30 6 * * thu", "Pacific/Auckland"
    before = _next_thursday_0630(settings.timezone)
    page = _confirm(http, engine, settings, "welcome@example.com")
    after = _next_thursday_0630(settings.timezone)  # the same, unless the test ran across 6:30
    assert "You're subscribed" in page
    assert any(f"is due on Thursday {day.day} {day:%B}." in page for day in {before, after}), page
    assert "Monday" not in page


@pytest.mark.parametrize("broken", [{"schedule": "every monday"}, {"timezone": "Mars/Olympus"}])
def test_an_unreadable_schedule_still_confirms_and_says_less(
    http: httpx.Client, engine: Engine, settings: Settings, broken: dict[str, str]
) -> None:
    for name, value in broken.items():
        setattr(settings, name, value)
    page = _confirm(http, engine, settings, "patient@example.com")
    assert "You're subscribed" in page
    assert "is on its way." in page
