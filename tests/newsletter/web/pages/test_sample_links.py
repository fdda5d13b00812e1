"""Link checkers and the sample subscriber: `issue check --links` (and any checker)
fetches every link of an email and changes nothing, and the links the preview and a test
send carry (the sample subscriber's) lead to pages that work and say they are a sample's.
Against the real app under uvicorn, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import httpx
from sqlalchemy import Engine

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery.providers.outbox import OutboxBackend
from newsletter.links.tokens import Signer
from newsletter.links.urls import SiteUrls
from newsletter.publishing.checks import Level, check_links_answer
from newsletter.publishing.preview import Preview, build_preview
from newsletter.sending import sender
from subscribers.models import Status
from tests.newsletter.web.helpers import eml, html_part, snapshot
from tests.newsletter.web.link_kinds import (
    READER,
    TITLE,
    personal_links,
    sample_links,
    sent_issue,
    subscriber_id,
    votes_of,
)

SAMPLE = "This is a sample link"
UNCHANGED = "Nothing was changed"


def _site_links(html: str, settings: Settings) -> list[str]:
    """The email's links to the site's vote and unsubscribe pages."""
    found = re.findall(r'href="([^"]+)"', html)
    return [
        unescape(url)
        for url in found
        if url.startswith(settings.site_url) and ("/vote/" in url or "/unsubscribe/" in url)
    ]


def _try_as_an_editor(http: httpx.Client, settings: Settings, urls: list[str]) -> None:
    """Open each link and press its button: a sample's page every time, nothing changed."""
    assert len(urls) == 3  # two vote links and the unsubscribe link
    for url in urls:
        path = url.removeprefix(settings.site_url)
        opened = unescape(http.get(path).text)
        assert SAMPLE in opened, path
        assert f'<form method="post" action="{path}">' in opened
        if "/vote/" in path:  # the real landing content: the comparison and the tool
            assert TITLE in opened
            assert re.search(r"Vote (Alpha|Beta) Tool\?", opened)
        pressed = http.post(path, content=b"List-Unsubscribe=One-Click")
        assert pressed.status_code == 200, path
        assert SAMPLE in unescape(pressed.text)
        assert UNCHANGED in unescape(pressed.text)


def test_the_previews_links_lead_to_sample_pages_that_change_nothing(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    issue = sent_issue(engine, settings, tmp_path, tools_on_site=False)
    subscriber_id(engine, READER)
    preview = build_preview(engine, settings, number=issue.number)
    assert isinstance(preview, Preview)
    before = snapshot(engine)
    _try_as_an_editor(http, settings, _site_links(preview.html, settings))
    assert sorted(sample_links(engine, settings, issue).values()) == sorted(
        _site_links(preview.html, settings)
    )
    assert snapshot(engine) == before
    assert votes_of(engine) == []


def test_a_test_sends_links_lead_to_sample_pages_that_change_nothing(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    issue = sent_issue(engine, settings, tmp_path, tools_on_site=False)
    subscriber_id(engine, READER)
    backend = OutboxBackend(settings.outbox_dir)
    with session_scope(engine) as session:
        sender.test_send(session, issue.number, "editor@elsewhere.example.com", settings, backend)
    [written] = sorted(settings.outbox_dir.rglob("*editor@elsewhere.example.com.eml"))
    message = eml(written)
    before = snapshot(engine)
    _try_as_an_editor(http, settings, _site_links(html_part(message), settings))
    one_click = str(message["List-Unsubscribe"]).strip().strip("<>")
    answer = http.post(
        one_click.removeprefix(settings.site_url),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200  # a mail client's one-click gets an answer, not a 404
    assert snapshot(engine) == before


def test_issue_check_links_finds_every_link_answering_and_changes_nothing(
    live_app: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    issue = sent_issue(engine, settings, tmp_path, tools_on_site=True)
    subscriber_id(engine, READER)
    before = snapshot(engine)
    checked = build_preview(engine, settings, number=issue.number, links=True)
    assert isinstance(checked, Preview)
    assert [f for f in checked.findings if f.level == Level.ERROR] == []
    assert snapshot(engine) == before


def test_a_drafts_web_version_not_yet_published_is_a_warning_not_an_error(
    live_app: str, settings: Settings
) -> None:
    """A draft's "view in your browser" link answers once the issue has gone out: before
    that its 404 is a warning saying so, not an error that fails every draft's check;
    any other 404 stays an error."""
    urls = SiteUrls(settings.site_url)
    view, gone = urls.issue(41), urls.issue(42)
    html = "".join(f'<a href="{url}">x</a>' for url in (urls.home(), view, gone))
    findings = check_links_answer(html, published_later=(view,))
    assert [(f.level, f.message.split()[0]) for f in findings] == [
        (Level.WARNING, view),
        (Level.ERROR, gone),
    ]
    assert "published when the issue goes out" in findings[0].message


def test_a_link_checker_on_a_real_subscribers_links_changes_nothing(
    live_app: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """What a checker, a scanner or an editor's `--links` run on a test send to themselves
    does: HEAD every link, then GET where HEAD is refused, following redirects."""
    issue = sent_issue(engine, settings, tmp_path, tools_on_site=True)
    reader = subscriber_id(engine, READER)
    newcomer = subscriber_id(engine, "newcomer@example.com", Status.PENDING)
    leaver = subscriber_id(engine, "leaver@example.com", Status.UNSUBSCRIBED)
    unsubscribe, votes = personal_links(engine, settings, issue, reader)
    signer, urls = Signer(settings.secret()), SiteUrls(settings.site_url)
    every = [
        unsubscribe,
        *votes.values(),
        urls.confirm(signer.confirm_token(newcomer)),
        urls.resubscribe(signer.unsubscribe_token(leaver, issue.id or 0)),
        urls.issue(issue.number),
    ]
    html = "".join(f'<p><a href="{url}">link</a></p>' for url in every)
    before = snapshot(engine)
    findings = check_links_answer(html)
    codes = [httpx.get(url, trust_env=False).status_code for url in every]  # a GET-only checker
    assert snapshot(engine) == before
    assert findings == []
    assert codes == [200] * len(every)
