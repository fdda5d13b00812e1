"""Both generations of email links over HTTP: the one-token-per-recipient links every issue
sends now, and the per-link tokens of the emails already in inboxes, which keep working
(they never expired). A recipient token acts for its own subscriber and issue alone; a
damaged one is refused; opening a link changes nothing. The real app under uvicorn, on
SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from html import unescape
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.links.personalize import vote_slots
from newsletter.links.tokens import IssueTokens, Signer
from newsletter.links.urls import SiteUrls
from newsletter.publishing.models import Issue, Tool
from subscribers.models import Status
from tests.newsletter.web.helpers import snapshot
from tests.newsletter.web.link_kinds import (
    LEAVER,
    READER,
    personal_links,
    sent_issue,
    status_of,
    subscriber_id,
    votes_of,
)

ONE_CLICK = {"Content-Type": "application/x-www-form-urlencoded"}
ONE_CLICK_BODY = b"List-Unsubscribe=One-Click"


@dataclass(frozen=True)
class Ballot:
    """The issue's one comparison and its two tools, by id."""

    comparison: int
    alpha: int
    beta: int


def _ballot(engine: Engine, issue: Issue) -> Ballot:
    with session_scope(engine) as session:
        ids = dict(session.exec(select(Tool.slug, Tool.id)).all())
    [comparison] = {slot.comparison_id for slot in vote_slots(issue)}
    return Ballot(comparison, ids["alpha-tool"] or 0, ids["beta-tool"] or 0)


def _old_links(settings: Settings, issue: Issue, sid: int, ballot: Ballot) -> tuple[str, str]:
    """(unsubscribe path, vote-for-Alpha path) as an email sent before this change carried
    them: one token per link, signed the way the sends of that time signed them."""
    signer = Signer(settings.secret())
    votes = [(ballot.comparison, ballot.alpha), (ballot.comparison, ballot.beta)]
    unsubscribe, vote_tokens = IssueTokens(signer, issue.id or 0, votes).for_subscriber(sid)
    assert unsubscribe == signer.unsubscribe_token(sid, issue.id or 0)
    urls = SiteUrls("")
    return urls.unsubscribe(unsubscribe), urls.vote(vote_tokens[0])


def _path(url: str, settings: Settings) -> str:
    return url.removeprefix(settings.site_url)


def _opened(http: httpx.Client, path: str) -> str:
    """The page behind a link, opened twice as scanners do, and by HEAD; its button's form
    posts to the very link."""
    assert http.head(path).status_code == 200, path
    for _ in range(2):
        page = http.get(path)
    assert page.status_code == 200, path
    assert f'<form method="post" action="{path}">' in page.text, path
    return unescape(page.text)


@pytest.mark.parametrize("form", ["old", "new"])
def test_a_vote_link_of_either_form_votes_and_its_opening_changes_nothing(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path, form: str
) -> None:
    issue = sent_issue(engine, settings, tmp_path, tools_on_site=False)
    reader = subscriber_id(engine, READER)
    ballot = _ballot(engine, issue)
    if form == "old":
        _, vote = _old_links(settings, issue, reader, ballot)
    else:
        vote = _path(personal_links(engine, settings, issue, reader)[1]["alpha-tool"], settings)
        assert vote.endswith(f"/{ballot.comparison}/{ballot.alpha}")
    before = snapshot(engine)

    assert "Vote Alpha Tool?" in _opened(http, vote)
    assert snapshot(engine) == before  # a scanner's GET and HEAD changed nothing

    answer = http.post(vote)
    assert answer.status_code == 200
    assert "Thanks: your vote is Alpha Tool" in unescape(answer.text)
    assert votes_of(engine) == [(reader, "alpha-tool")]


@pytest.mark.parametrize("form", ["old", "new"])
def test_an_unsubscribe_link_of_either_form_unsubscribes_in_one_click_and_takes_it_back(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path, form: str
) -> None:
    issue = sent_issue(engine, settings, tmp_path, tools_on_site=False)
    reader = subscriber_id(engine, READER)
    if form == "old":
        unsubscribe, _ = _old_links(settings, issue, reader, _ballot(engine, issue))
    else:
        unsubscribe = _path(personal_links(engine, settings, issue, reader)[0], settings)
    before = snapshot(engine)

    _opened(http, unsubscribe)
    assert snapshot(engine) == before
    assert status_of(engine, READER) == Status.ACTIVE

    answer = http.post(unsubscribe, content=ONE_CLICK_BODY, headers=ONE_CLICK)  # RFC 8058
    assert answer.status_code == 200
    assert status_of(engine, READER) == Status.UNSUBSCRIBED

    # The page's "changed my mind" posts with the link's own token, whichever form it is.
    resubscribe = unsubscribe.replace("/unsubscribe/", "/resubscribe/")
    assert f'action="{resubscribe}"' in answer.text
    assert http.post(resubscribe).status_code == 200
    assert status_of(engine, READER) == Status.ACTIVE


def test_a_recipient_token_acts_for_its_own_subscriber_and_issue_alone(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    issue = sent_issue(engine, settings, tmp_path, tools_on_site=False)
    reader = subscriber_id(engine, READER)
    other = subscriber_id(engine, LEAVER)  # active here: a second reader
    ballot = _ballot(engine, issue)
    signer = Signer(settings.secret())
    mine = signer.recipient_token(reader, issue.id or 0)
    theirs = signer.recipient_token(other, issue.id or 0)
    choice = f"{ballot.comparison}/{ballot.alpha}"
    payload, mac = mine.split(".")
    their_payload = theirs.split(".")[0]
    old_vote = signer.vote_token(reader, issue.id or 0, ballot.comparison, ballot.alpha)
    refused = [
        # another issue's token cannot vote on this issue's comparison
        f"/vote/{signer.recipient_token(reader, (issue.id or 0) + 1)}/{choice}",
        # a tool that is not in the comparison
        f"/vote/{mine}/{ballot.comparison}/{ballot.alpha + ballot.beta + 100}",
        # damaged, or another subscriber's payload under this token's MAC
        f"/vote/{payload}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}/{choice}",
        f"/vote/{their_payload}.{mac}/{choice}",
        f"/unsubscribe/{their_payload}.{mac}",
        # a token of another purpose, or the forms mixed up
        f"/vote/{old_vote}/{choice}",
        f"/vote/{mine}",
        f"/unsubscribe/{old_vote}",
        f"/unsubscribe/{signer.confirm_token(reader)}",
        f"/resubscribe/{old_vote}",
        # an id in another spelling
        f"/vote/{mine}/0{ballot.comparison}/{ballot.alpha}",
        f"/vote/{mine}/{ballot.comparison}/+{ballot.alpha}",
    ]
    before = snapshot(engine)
    for path in refused:
        for method in ("GET", "POST"):
            answer = http.request(method, path)
            assert answer.status_code == 400, (method, path, answer.status_code)
            assert "This link is not valid" in unescape(answer.text), path
    assert snapshot(engine) == before  # nothing was recorded by any of them

    # The reader's token votes for the reader, and only ever for them.
    assert http.post(f"/vote/{mine}/{choice}").status_code == 200
    assert votes_of(engine) == [(reader, "alpha-tool")]
    assert http.post(f"/vote/{theirs}/{ballot.comparison}/{ballot.beta}").status_code == 200
    assert sorted(votes_of(engine)) == sorted([(reader, "alpha-tool"), (other, "beta-tool")])
    assert http.post(f"/unsubscribe/{theirs}", content=ONE_CLICK_BODY).status_code == 200
    assert status_of(engine, LEAVER) == Status.UNSUBSCRIBED
    assert status_of(engine, READER) == Status.ACTIVE
