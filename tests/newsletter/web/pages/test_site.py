"""The public site: past issues, web versions, comparisons, the feed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
from sqlalchemy import Engine
from sqlmodel import select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.publishing.models import Comparison, Issue
from newsletter.publishing.withdrawal import load_and_withdraw
from tests.factories import comparison, write_comparison
from tests.newsletter.web.helpers import issue_for


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
