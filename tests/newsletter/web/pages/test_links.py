"""Only people act on links: opening any link the service sends (GET, HEAD, a browser's
prefetch) changes nothing and shows a button; the button, a POST to the same link, acts.
Plain HTTP against the real app under uvicorn, on SQLite and PostgreSQL."""

from __future__ import annotations

from html import unescape
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from subscribers.models import Status
from subscribers.service import forget
from tests.newsletter.web.helpers import snapshot
from tests.newsletter.web.link_kinds import (
    LEAVER,
    NEWCOMER,
    READER,
    TITLE,
    acted,
    every_link,
    personal_links,
    sent_issue,
    status_of,
    subscriber_id,
    votes_of,
)

ONE_CLICK = {"Content-Type": "application/x-www-form-urlencoded"}
# What browsers send when they fetch a page ahead of a click (Chromium's speculation rules
# and <link rel=prefetch>, Firefox's and Safari's older header).
PREFETCH = {"Sec-Purpose": "prefetch", "Purpose": "prefetch", "X-Moz": "prefetch"}


def _path(url: str, settings: Settings) -> str:
    return url.removeprefix(settings.site_url)


@pytest.mark.parametrize(
    ("method", "headers"),
    [("GET", {}), ("HEAD", {}), ("GET", PREFETCH)],
    ids=["get", "head", "prefetch"],
)
def test_opening_any_link_changes_nothing(
    http: httpx.Client,
    engine: Engine,
    settings: Settings,
    tmp_path: Path,
    method: str,
    headers: dict[str, str],
) -> None:
    links = every_link(engine, settings, tmp_path)
    before = snapshot(engine)
    for kind, url in links.kinds().items():
        path = _path(url, settings)
        answers = [http.request(method, path, headers=headers) for _ in range(2)]  # scanners retry
        assert not acted(engine, kind), f"opening the {kind} link acted"
        assert snapshot(engine) == before, kind
        for answer in answers:
            assert answer.status_code == 200, (kind, answer.status_code)
            if method == "HEAD":
                assert answer.content == b""
            else:  # the page's button posts to the very link that was opened
                assert f'<form method="post" action="{path}">' in answer.text, kind


def test_the_button_does_what_the_link_says(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    links = every_link(engine, settings, tmp_path)
    for kind, url in links.kinds().items():
        path = _path(url, settings)
        http.get(path)
        body = b"List-Unsubscribe=One-Click" if kind == "unsubscribe" else b""
        answer = http.post(path, content=body, headers=ONE_CLICK)  # RFC 8058's one-click
        assert answer.status_code == 200, (kind, answer.status_code)
        assert acted(engine, kind), kind
    assert status_of(engine, NEWCOMER) == Status.ACTIVE
    assert status_of(engine, READER) == Status.UNSUBSCRIBED
    assert status_of(engine, LEAVER) == Status.ACTIVE
    again = http.post(_path(links.confirm, settings))
    assert "You're subscribed" in unescape(again.text)  # a second click changes nothing


def test_the_vote_page_shows_the_comparison_and_the_vote_it_would_change(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    links = every_link(engine, settings, tmp_path)
    alpha, beta = _path(links.vote, settings), _path(links.other_vote, settings)

    first = unescape(http.get(alpha).text)
    assert TITLE in first
    assert "Which one should you ship with?" in first
    assert "The verdict on one." in first
    assert "The alpha-tool tagline" in first
    assert "The beta-tool tagline" in first
    assert "Vote Alpha Tool?" in first
    assert ">Vote Alpha Tool</button>" in first

    assert "Thanks: your vote is Alpha Tool" in unescape(http.post(alpha).text)
    mine = unescape(http.get(alpha).text)
    assert "Your vote is Alpha Tool" in mine
    assert "<form" not in mine.split('id="ballot"', 1)[1]  # nothing left to do here

    change = unescape(http.get(beta).text)
    assert "Your vote is <strong>Alpha Tool</strong> now" in change
    assert "this changes it to <strong>Beta Tool</strong>" in change
    assert ">Change my vote to Beta Tool</button>" in change
    assert [slug for _sid, slug in votes_of(engine)] == ["alpha-tool"]  # the page changed nothing

    changed = unescape(http.post(beta).text)
    assert "Thanks: your vote is Beta Tool" in changed
    assert "(1 vote)" in changed
    assert [slug for _sid, slug in votes_of(engine)] == ["beta-tool"]


@pytest.mark.parametrize(
    ("status", "why"),
    [
        (Status.UNSUBSCRIBED, "This address unsubscribed"),
        (Status.PENDING, "has not confirmed its subscription"),
        (Status.BOUNCED, "after delivery problems"),
        (Status.COMPLAINED, "asked us to stop emailing it"),
    ],
)
def test_only_active_subscribers_vote(
    http: httpx.Client,
    engine: Engine,
    settings: Settings,
    tmp_path: Path,
    status: Status,
    why: str,
) -> None:
    issue = sent_issue(engine, settings, tmp_path, tools_on_site=False)
    sid = subscriber_id(engine, "not-a-voter@example.com", status)
    _unsubscribe, votes = personal_links(engine, settings, issue, sid)
    before = snapshot(engine)
    path = _path(votes["alpha-tool"], settings)
    for answer in (http.get(path), http.post(path)):
        assert answer.status_code == 403
        text = unescape(answer.text)
        assert "Your vote is not counted" in text
        assert why in text
        assert "Nothing was recorded." in text
        assert "<form" not in text
        assert TITLE in text  # the page still says which comparison the link was for
    assert votes_of(engine) == []
    assert snapshot(engine) == before


def test_a_forgotten_subscriber_cannot_vote(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    issue = sent_issue(engine, settings, tmp_path, tools_on_site=False)
    sid = subscriber_id(engine, "erased@example.com")
    _unsubscribe, votes = personal_links(engine, settings, issue, sid)
    with session_scope(engine) as session:
        assert forget(session, "erased@example.com")
    path = _path(votes["alpha-tool"], settings)
    for answer in (http.get(path), http.post(path)):
        assert answer.status_code == 404
        assert "This address is gone" in answer.text
    assert votes_of(engine) == []


def test_a_confirmation_page_for_an_address_already_active_says_so(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    links = every_link(engine, settings, tmp_path)
    path = _path(links.confirm, settings)
    asking = unescape(http.get(path).text)
    assert "Confirm your subscription" in asking
    assert ">Yes, subscribe me</button>" in asking
    http.post(path)
    after = unescape(http.get(path).text)
    assert "You're subscribed" in after
    assert "<form" not in after
