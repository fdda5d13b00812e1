"""The public site: past issues, web versions, comparisons, the feed."""

from __future__ import annotations

import re
from datetime import date
from html import unescape
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.publishing.content import load_content
from newsletter.publishing.issues import build_issue
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.publishing.models import Comparison, Issue, Tool
from newsletter.publishing.votes import record_vote
from newsletter.publishing.withdrawal import load_and_withdraw
from subscribers.models import Source
from subscribers.service import add_subscriber
from tests.factories import REVIEWERS, comparison, tool, write_comparison, write_content
from tests.newsletter.web.helpers import ADMIN, issue_for


def test_past_issues_web_version_and_feed(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    assert "The first issue is on its way" in http.get("/").text
    issue = issue_for(engine, settings, tmp_path, "2026-W48", ["one"], "2026-11-24")
    home = http.get("/")
    assert f'href="/issues/{issue.number}"' in home.text
    web = http.get(f"/issues/{issue.number}")
    assert web.status_code == 200
    assert "One A vs One B" in web.text
    assert "%%" not in web.text
    assert "/vote/" not in web.text
    assert "Vote One A" not in web.text
    assert "/unsubscribe/" not in web.text
    assert http.get("/issues/99").status_code == 404
    feed = http.get("/feed.xml")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    assert f"<id>{settings.site_url}/issues/{issue.number}</id>" in feed.text
    page = http.get("/comparisons/one")
    assert page.status_code == 200
    assert "What one-a does" in page.text
    assert http.get("/comparisons/nope").status_code == 404
    with session_scope(engine) as session:  # in a draft and dated in the future: not yet public
        session.exec(select(Issue).where(Issue.number == issue.number)).one().status = "draft"
        session.exec(select(Comparison).where(Comparison.slug == "one")).one().published = date(
            2999, 1, 1
        )
    assert http.get("/comparisons/one").status_code == 404


def test_a_withdrawn_comparison_stays_public_only_where_it_went_out(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    issue = issue_for(engine, settings, tmp_path, "2026-W48", ["sent"], "2026-11-24")
    root = tmp_path / "content"
    write_comparison(root, comparison("unsent", "2026-06-01"))
    write_comparison(root, comparison("stays", "2026-06-02"))  # a load never empties it all
    with session_scope(engine) as session:
        load_and_withdraw(session, root, settings)
    assert http.get("/comparisons/unsent").status_code == 200  # its date has come
    for name in ("sent", "unsent"):
        (root / "comparisons" / f"{name}.yaml").unlink()
    with session_scope(engine) as session:
        assert load_and_withdraw(session, root, settings).report.withdrawn == ["sent", "unsent"]
    assert http.get("/comparisons/unsent").status_code == 404  # never published
    kept = http.get("/comparisons/sent")  # it went out: the archive keeps it
    assert kept.status_code == 200
    assert "What sent-a does" in kept.text
    assert "Sent A vs Sent B" in http.get(f"/issues/{issue.number}").text


SITE_NAVIGATION = '<nav aria-label="Site">'


def _text(html: str) -> str:
    """What a reader sees of a page: the words, without tags or line breaks."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _vote(engine: Engine, issue: Issue, comparison_slug: str, tool_slug: str) -> None:
    with session_scope(engine) as session:
        reader = add_subscriber(session, "reader@example.com", source=Source.CLI, confirmed=True)
        session.flush()
        comparison = session.exec(select(Comparison).where(Comparison.slug == comparison_slug))
        tool = session.exec(select(Tool).where(Tool.slug == tool_slug)).one()
        record_vote(session, reader.id or 0, issue.id or 0, comparison.one().id or 0, tool.id or 0)


def test_the_web_version_reads_as_a_page_of_the_site(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    issue = issue_for(engine, settings, tmp_path, "2026-W48", ["one", "two"], "2026-11-24")
    _vote(engine, issue, "one", "one-a")
    answer = http.get(f"/issues/{issue.number}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    page = unescape(answer.text)
    assert SITE_NAVIGATION in page
    assert f"<title>{issue.subject} · {settings.from_name}</title>" in page
    assert "Issue #1 · week of 23 November 2026" in page
    for email_only in (
        "View in your browser",
        "You get this email because",
        "Unsubscribe",
        "%%",
        "/vote/",
        "Vote One A",
        "<!--[if mso",
    ):
        assert email_only not in page, email_only
    assert 'href="/comparisons/one"' in page
    assert 'href="/comparisons/two"' in page
    # The shares as they stand, not the "no votes yet" the email went out with.
    assert "<strong>100%</strong> community vote" in page
    assert "<strong>0%</strong> community vote" in page
    assert _text(page).count("Community vote: no votes yet") == 2  # comparison two's tools


def _vote_as(engine: Engine, issue: Issue, address: str, tool_slug: str) -> None:
    with session_scope(engine) as session:
        reader = add_subscriber(session, address, source=Source.CLI, confirmed=True)
        session.flush()
        tool = session.exec(select(Tool).where(Tool.slug == tool_slug)).one()
        voted = session.exec(select(Comparison).where(Comparison.slug == "one")).one()
        record_vote(session, reader.id or 0, issue.id or 0, voted.id or 0, tool.id or 0)


def test_the_web_version_shows_what_went_out_and_only_the_votes_move(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """The "view in your browser" link and the archive show the issue as it was sent. Before,
    the page was rebuilt from today's tables: an edit loaded after the send put a title, a
    verdict and takes on it that nobody approved and no subscriber got."""
    issue = issue_for(engine, settings, tmp_path, "2026-W48", ["one"], "2026-11-24")
    sent = unescape(http.get(f"/issues/{issue.number}").text)
    assert "The verdict on one." in sent
    assert "Dana Dev · developer experience : favours One A" in _text(sent)
    edited = comparison(
        "one",
        "2026-11-24",
        title="One B beats One A",
        verdict="We changed our minds.",
        verdicts={"dx": ["skip", "ship"], "risk": ["wait", "ship"]},
        tools=[tool("one-a", tagline="A new tagline"), tool("one-b")],
    )
    write_comparison(tmp_path / "content", edited)
    with session_scope(engine) as session:
        report = load_and_withdraw(session, tmp_path / "content", settings).report
    assert report.updated == ["one"]
    assert http.get("/comparisons/one").text.count("We changed our minds.") == 1  # loaded

    page = unescape(http.get(f"/issues/{issue.number}").text)
    assert page == sent  # nothing the file says now, nothing anybody voted yet
    for unsent in (
        "We changed our minds.",
        "One B beats One A",
        "A new tagline",
        "dx on one-b: ship.",
    ):
        assert unsent not in page, unsent
    assert [page.count(name) for name in ("Riley Risk", "Lee Long", "Bo Buyer")] == [1, 1, 1]

    _vote_as(engine, issue, "first@example.com", "one-b")  # the live figures do move
    _vote_as(engine, issue, "second@example.com", "one-b")
    _vote_as(engine, issue, "third@example.com", "one-a")
    voted = unescape(http.get(f"/issues/{issue.number}").text)
    assert "<strong>33%</strong> community vote" in voted
    assert "<strong>67%</strong> community vote" in voted
    assert "3 community votes so far." in voted
    assert "We changed our minds." not in voted
    assert "The verdict on one." in voted


def test_an_issue_rendered_before_pages_were_kept_is_built_from_the_tables(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    issue = issue_for(engine, settings, tmp_path, "2026-W48", ["one"], "2026-11-24")
    with session_scope(engine) as session:  # as migration 0007 leaves an older issue
        stored = session.exec(select(Issue).where(Issue.number == issue.number)).one()
        assert stored.page is not None
        stored.page = None
    _vote_as(engine, issue, "first@example.com", "one-b")
    page = unescape(http.get(f"/issues/{issue.number}").text)
    assert "The verdict on one." in page
    assert "<strong>100%</strong> community vote" in page
    assert "1 community vote so far." in page


def test_the_archive_and_the_feed_list_issues_by_week(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """Issue #1 (week 48) is cancelled after #2 (week 49) was built; week 48 is built
    again as #3. The archive reads week 49, then week 48, whatever the numbers say."""
    root = tmp_path / "content"
    write_content(root, [comparison("early", "2026-11-24"), comparison("late", "2026-12-01")])
    with session_scope(engine) as session:
        load_content(session, root)
    with session_scope(engine) as session:
        first = build_issue(session, "2026-W48", settings).issue
        second = build_issue(session, "2026-W49", settings).issue
        second.status = IssueStatus.SENT
        first.status = IssueStatus.CANCELLED
    write_comparison(root, comparison("again", "2026-11-25"))
    with session_scope(engine) as session:
        load_content(session, root)
    with session_scope(engine) as session:
        rebuilt = build_issue(session, "2026-W48", settings).issue
        rebuilt.status = IssueStatus.SENT
    assert (first.number, second.number, rebuilt.number) == (1, 2, 3)

    home = http.get("/").text
    assert re.findall(r'href="/issues/(\d+)"', home) == ["2", "3"]
    feed = http.get("/feed.xml").text
    assert re.findall(r"<id>[^<]*/issues/(\d+)</id>", feed) == ["2", "3"]
    head, *entries = feed.split("<entry>")
    newest = max(re.findall(r"<updated>([^<]+)</updated>", "".join(entries)))
    assert f"<updated>{newest}</updated>" in head  # the feed is as new as its newest entry


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("/no/such/page", "Page not found"),
        ("/issues/", "Page not found"),
        ("/issues/abc", "Page not found"),
        ("/issues/0", "Page not found"),
        ("/issues/2147483648", "Page not found"),
        ("/issues/99999999999999999999", "Page not found"),
        ("/issues/99", "No such issue"),
        ("/comparisons/nope", "No such comparison"),
    ],
)
def test_a_missing_page_is_a_404_in_the_site_look(
    http: httpx.Client, path: str, title: str
) -> None:
    answer = http.get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert SITE_NAVIGATION in answer.text
    assert f"<h1>{title}</h1>" in answer.text
    assert '<a class="button" href="/">Past issues</a>' in answer.text


def test_the_admin_api_keeps_its_json_errors(http: httpx.Client) -> None:
    missing = http.get("/api/no-such-thing", headers=ADMIN)
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
    malformed = http.get("/api/subscribers/abc", headers=ADMIN)
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["loc"] == ["path", "subscriber_id"]
    wrong_method = http.post("/")  # a page's other answers are pages too
    assert wrong_method.status_code == 405
    assert "GET" in wrong_method.headers["allow"]
    assert SITE_NAVIGATION in wrong_method.text


def test_the_comparison_page_names_each_reviewer_once_and_says_no_votes_yet(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    issue_for(engine, settings, tmp_path, "2026-W48", ["one"], "2026-11-24")
    page = unescape(http.get("/comparisons/one").text)
    panel = page.split('id="panel"', 1)[1]
    for reviewer in REVIEWERS:  # each with a verdict on both tools, under their own name
        assert panel.count(reviewer["name"]) == 1, reviewer["name"]
        for tool_slug in ("one-a", "one-b"):
            assert f"{reviewer['slug']} on {tool_slug}: " in panel
    assert 'Dana Dev</strong> <span class="soft">· developer experience</span>:' in panel
    assert "favours <strong>One A</strong>" in panel  # Dana Dev: ship against wait
    assert _text(page).count("Community vote: no votes yet") == 2
    assert "—" not in page
