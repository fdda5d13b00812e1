"""The whole app over real HTTP: a reader's journey from the form to unsubscribing, and
the app's lifetime."""

from __future__ import annotations

import asyncio
import re
import threading
from html import unescape
from pathlib import Path

import httpx
from sqlalchemy import Engine
from sqlmodel import select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery.providers.outbox import OutboxBackend
from newsletter.publishing.models import Issue, Vote
from newsletter.sending.signup_dispatcher import THREAD_NAME
from newsletter.web.app import create_app
from tests.newsletter.web.helpers import (
    deliver,
    eml,
    html_part,
    issue_for,
    subscriber_of,
    wait_for,
    wait_for_signups,
)


def test_subscribe_confirm_receive_vote_unsubscribe(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    form = http.get("/subscribe")
    assert form.status_code == 200
    assert '<label for="email">' in form.text

    answer = http.post("/subscribe", data={"email": "Reader@Example.COM", "name": "Rea"})
    assert answer.status_code == 200
    assert "Check your inbox" in answer.text
    wait_for_signups(engine)
    pending = subscriber_of(engine, "reader@example.com")
    assert pending is not None
    assert pending.status == "pending"
    assert pending.consent_ip == "127.0.0.1"

    confirmation = wait_for(settings.outbox_dir, "*reader@example.com.eml")[0]
    confirm_url = re.search(r'href="([^"]+/confirm/[^"]+)"', html_part(eml(confirmation)))
    assert confirm_url is not None
    confirm_path = confirm_url.group(1).removeprefix(settings.site_url)
    asked = http.get(confirm_path)  # opening the link asks; a person's click confirms
    assert asked.status_code == 200
    assert f'<form method="post" action="{confirm_path}">' in asked.text
    still_pending = subscriber_of(engine, "reader@example.com")
    assert still_pending is not None
    assert still_pending.status == "pending"
    confirmed = http.post(confirm_path)
    assert confirmed.status_code == 200
    assert "You're subscribed" in unescape(confirmed.text)
    again = http.post(confirm_path)
    assert again.status_code == 200  # idempotent
    assert "You're subscribed" in unescape(http.get(confirm_path).text)
    active = subscriber_of(engine, "reader@example.com")
    assert active is not None
    assert active.status == "active"
    assert active.confirmed_at is not None

    issue = issue_for(engine, settings, tmp_path, "2026-W48", ["one", "two"], "2026-11-24")
    received = eml(deliver(engine, settings, issue, ["reader@example.com"])["reader@example.com"])
    html = html_part(received)
    votes = re.findall(r'href="(http://127\.0\.0\.1:\d+/vote/[^"]+)"', html)
    assert len(votes) == 4  # two tools in each of two comparisons

    first_path = votes[0].removeprefix(settings.site_url)
    asked = http.get(first_path)  # opening the link asks; the button votes
    assert asked.status_code == 200
    assert f'<form method="post" action="{first_path}">' in asked.text
    with session_scope(engine) as session:
        assert session.exec(select(Vote)).all() == []
    first = http.post(first_path)
    assert first.status_code == 200
    assert "Thanks: your vote is" in first.text
    assert "100%" in first.text
    assert "(1 vote)" in first.text
    repeat = http.post(first_path)
    assert "You already voted" in repeat.text
    changed = http.post(votes[1].removeprefix(settings.site_url))
    assert "Thanks: your vote is" in changed.text
    with session_scope(engine) as session:
        rows = session.exec(select(Vote)).all()
    assert len(rows) == 1  # one vote per subscriber per comparison, changed by the second click

    # The next issue shows the community result of the last one.
    with session_scope(engine) as session:
        later = issue_for(engine, settings, tmp_path / "later", "2026-W49", ["three"], "2026-12-01")
        later_text = session.get(Issue, later.id).text  # type: ignore[union-attr]
    assert "The community voted: issue #1" in later_text
    assert "(1 vote)" in later_text

    unsubscribe = str(received["List-Unsubscribe"]).strip().strip("<>")
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = unsubscribe.removeprefix(settings.site_url)
    looked = http.get(path)
    assert looked.status_code == 200
    assert '<form method="post"' in looked.text
    still = subscriber_of(engine, "reader@example.com")
    assert still is not None
    assert still.status == "active"  # a GET alone never unsubscribes

    one_click = http.post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200  # never a redirect
    assert "You're unsubscribed" in unescape(one_click.text)
    gone = subscriber_of(engine, "reader@example.com")
    assert gone is not None
    assert gone.status == "unsubscribed"
    assert "Re-subscribe" in one_click.text

    back = http.post(path.replace("/unsubscribe/", "/resubscribe/"))
    assert back.status_code == 200
    restored = subscriber_of(engine, "reader@example.com")
    assert restored is not None
    assert restored.status == "active"


class _ClosingOutbox(OutboxBackend):
    """The embedded backend, counting how often the app closes it."""

    closes = 0

    def close(self) -> None:
        self.closes += 1


def _dispatchers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


def test_the_app_runs_the_sign_up_dispatcher_and_stops_it_before_closing_its_backend(
    settings: Settings, engine: Engine
) -> None:
    backend = _ClosingOutbox(settings.outbox_dir)
    app = create_app(settings, engine, backend=backend)
    before = len(_dispatchers())

    async def run_and_stop() -> None:
        async with app.router.lifespan_context(app):  # what uvicorn runs around serving
            assert backend.closes == 0
            assert len(_dispatchers()) == before + 1

    asyncio.run(run_and_stop())
    assert backend.closes == 1
    assert len(_dispatchers()) == before
