"""The sign-up form and its confirmation email."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from html import unescape
from zoneinfo import ZoneInfo

import httpx
import pytest
import time_machine
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
    wait_for_signups,
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
    wait_for_signups(engine)
    bounced = subscriber_of(engine, "bounced@example.com")
    assert bounced is not None
    assert bounced.status == "bounced"  # never revived
    bad = http.post("/subscribe", data={"email": "not an address"})
    assert bad.status_code == 422
    assert 'aria-invalid="true"' in bad.text
    trap = http.post("/subscribe", data={"email": "bot@example.com", "website": "spam"})
    assert trap.status_code == 200
    wait_for_signups(engine)
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
    answer = http.post(f"/confirm/{token}")  # the confirmation page's button
    assert answer.status_code == 200
    active = subscriber_of(engine, address)
    assert active is not None
    assert active.status == "active"
    return unescape(answer.text)


@pytest.mark.parametrize(
    ("schedule", "zone", "now", "due"),
    [
        pytest.param(  # 05:00 in Berlin on a Thursday: the 06:30 send is later today
            "30 6 * * thu",
            "Europe/Berlin",
            datetime(2026, 11, 26, 5, 0, tzinfo=ZoneInfo("Europe/Berlin")),
            "Thursday 26 November",
            id="later-today",
        ),
        pytest.param(  # 07:00 on that Thursday: today's send went, the next is in a week
            "30 6 * * thu",
            "Europe/Berlin",
            datetime(2026, 11, 26, 7, 0, tzinfo=ZoneInfo("Europe/Berlin")),
            "Thursday 3 December",
            id="just-missed",
        ),
        pytest.param(  # Wednesday noon in UTC is already Thursday 01:00 in Auckland
            "30 6 * * thu",
            "Pacific/Auckland",
            datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
            "Thursday 26 November",
            id="across-midnight-in-another-zone",
        ),
        pytest.param(  # Berlin leaves summer time that Sunday: 23:30 CET is 22:30 UTC, and
            # read with the summer offset of the moment the page is asked for, it is Monday
            "30 23 * * sun",
            "Europe/Berlin",
            datetime(2026, 10, 24, 12, 0, tzinfo=ZoneInfo("Europe/Berlin")),
            "Sunday 25 October",
            id="dst-change-day",
        ),
    ],
)
def test_the_welcome_page_names_the_next_send_day_from_the_schedule(
    http: httpx.Client,
    engine: Engine,
    settings: Settings,
    schedule: str,
    zone: str,
    now: datetime,
    due: str,
) -> None:
    settings.schedule, settings.timezone = schedule, zone
    with time_machine.travel(now, tick=False):
        page = _confirm(http, engine, settings, "welcome@example.com")
    assert "You're subscribed" in page
    assert f"The next issue of {settings.from_name} is due on {due}." in page


@pytest.mark.parametrize("broken", [{"schedule": "every monday"}, {"timezone": "Mars/Olympus"}])
def test_an_unreadable_schedule_still_confirms_and_says_less(
    http: httpx.Client, engine: Engine, settings: Settings, broken: dict[str, str]
) -> None:
    for name, value in broken.items():
        setattr(settings, name, value)
    page = _confirm(http, engine, settings, "patient@example.com")
    assert "You're subscribed" in page
    assert "is on its way." in page
