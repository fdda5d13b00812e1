"""The desk's subscriber pages over HTTP: search, filter, paging, one subscriber's page,
changing a status and forgetting (audited, admins only), and the CSV export."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import Engine

from newsletter.accounts.roles import Role
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from subscribers import browse as browsing
from subscribers.models import Source
from subscribers.service import add_subscriber, is_forgotten, status_history
from tests.newsletter.web.admin.desk import csrf_of, signed_in
from tests.newsletter.web.admin.list_data import (
    add_list,
    audit_actions,
    form_csrf,
    send_and_track,
    status_of,
    vote,
)


def test_search_finds_an_address_by_its_start_and_a_name_by_contains(
    desk: str, engine: Engine
) -> None:
    add_list(engine)
    with signed_in(desk, Role.VIEWER) as viewer:
        found = viewer.get("/admin/subscribers", params={"q": "ADA@"})
        by_name = viewer.get("/admin/subscribers", params={"q": "lovel", "match": "contains"})
        none = viewer.get("/admin/subscribers", params={"q": "lovel"})
    assert found.status_code == 200
    assert "ada@example.com" in found.text
    assert "grace@example.org" not in found.text
    assert "ada@example.com" in by_name.text
    assert "This page searched" in by_name.text
    assert "ada@example.com" not in none.text
    assert "No subscriber matches" in none.text


def test_filter_by_status_and_the_counts(desk: str, engine: Engine) -> None:
    add_list(engine)
    with signed_in(desk, Role.VIEWER) as viewer:
        bounced = viewer.get("/admin/subscribers", params={"status": "bounced"})
        wrong = viewer.get("/admin/subscribers", params={"status": "lost"})
    assert "gone@example.net" in bounced.text
    assert "ada@example.com" not in bounced.text
    assert wrong.status_code == 422
    assert '<span class="figure">1</span>' in bounced.text  # one bounced, one pending...


def test_pages_follow_their_cursor(
    desk: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope(engine) as session:
        for i in range(60):
            add_subscriber(session, f"r{i:02d}@example.com", source=Source.CLI)
    with signed_in(desk, Role.VIEWER) as viewer:
        first = viewer.get("/admin/subscribers")
        assert "r59@example.com" in first.text
        assert "r09@example.com" not in first.text
        older = re.search(r'href="/admin/subscribers\?([^"]*before=\d+)"', first.text)
        assert older, first.text
        query = older[1].replace("&amp;", "&")
        second = viewer.get(f"/admin/subscribers?{query}")
        assert "r09@example.com" in second.text
        assert "r59@example.com" not in second.text
        by_start = viewer.get("/admin/subscribers", params={"q": "r", "after": "r49@example.com"})
        assert "r50@example.com" in by_start.text
        assert "r49@example.com" not in by_start.text


def test_one_subscribers_page_shows_history_consent_mail_and_votes(
    desk: str, engine: Engine, settings: Settings
) -> None:
    ids = add_list(engine)
    send_and_track(engine, settings, ids["ada"])
    vote(engine, ids["ada"])
    with signed_in(desk, Role.VIEWER) as viewer:
        page = viewer.get(f"/admin/subscribers/{ids['ada']}")
        missing = viewer.get("/admin/subscribers/999999")
    assert page.status_code == 200
    text = page.text
    assert "added by an operator, as confirmed" in text  # how it arrived, from the history
    assert "Consent given" in text
    assert "Issue 7" in text
    assert "delivered" in text
    assert "accepted" in text
    assert "https://tools.example.com/alpha" in text  # clicked
    assert "Alpha vs Beta" in text
    assert "Alpha Tool" in text
    assert 'action="/admin/subscribers/' not in text  # a viewer sees no forms
    assert missing.status_code == 404


def test_an_admin_changes_a_status_with_a_reason_audited(desk: str, engine: Engine) -> None:
    ids = add_list(engine)
    path = f"/admin/subscribers/{ids['ada']}/status"
    with signed_in(desk, Role.ADMIN) as admin:
        page = admin.get(f"/admin/subscribers/{ids['ada']}")
        token = form_csrf(page.text, path)
        unconfirmed = admin.post(path, data={"csrf": token, "status": "paused", "reason": "x"})
        assert unconfirmed.status_code == 422
        move = {"csrf": token, "status": "unsubscribed", "reason": "asked by mail"}
        done = admin.post(path, data=move | {"confirm": "yes"})
        assert done.status_code == 303
        after = admin.get(done.headers["location"])
        again = admin.post(path, data=move | {"reason": "twice", "confirm": "yes"})
        assert again.status_code == 303
    assert "asked by mail" in after.text
    assert status_of(engine, "ada@example.com") == "unsubscribed"
    assert audit_actions(engine) == [  # the same status again changed and recorded nothing
        ("subscriber status", f"subscriber #{ids['ada']}", "active -> unsubscribed: asked by mail")
    ]
    with session_scope(engine) as session:
        history = [c.to_status for c in status_history(session, ids["ada"])]
    assert history == ["active", "unsubscribed"]


def test_a_suppressed_address_leaves_only_by_a_lift(desk: str, engine: Engine) -> None:
    ids = add_list(engine)
    path = f"/admin/subscribers/{ids['gone']}/status"
    with signed_in(desk, Role.ADMIN) as admin:
        page = admin.get(f"/admin/subscribers/{ids['gone']}")
        token = csrf_of(admin, "/admin/subscribers")
        refused = admin.post(
            path, data={"csrf": token, "status": "active", "reason": "fixed", "confirm": "yes"}
        )
    assert f'action="{path}"' not in page.text
    assert 'href="/admin/suppressions"' in page.text
    assert refused.status_code == 409
    assert "Suppressions" in refused.text
    assert status_of(engine, "gone@example.net") == "bounced"
    assert audit_actions(engine) == []


def test_forget_needs_the_address_typed(desk: str, engine: Engine) -> None:
    ids = add_list(engine)
    path = f"/admin/subscribers/{ids['ada']}/forget"
    with signed_in(desk, Role.ADMIN) as admin:
        token = form_csrf(admin.get(f"/admin/subscribers/{ids['ada']}").text, path)
        wrong = admin.post(
            path, data={"csrf": token, "address": "grace@example.org", "confirm": "yes"}
        )
        assert wrong.status_code == 422
        assert status_of(engine, "ada@example.com") == "active"
        assert audit_actions(engine) == []
        done = admin.post(
            path, data={"csrf": token, "address": " ADA@example.com ", "confirm": "yes"}
        )
    assert done.status_code == 200
    assert "Forgotten" in done.text
    assert status_of(engine, "ada@example.com") is None
    with session_scope(engine) as session:
        assert is_forgotten(session, "ada@example.com")  # the tombstone
    assert audit_actions(engine) == [("subscriber forget", f"subscriber #{ids['ada']}", "erased")]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_viewers_and_editors_may_not_change_the_list(desk: str, engine: Engine, role: Role) -> None:
    ids = add_list(engine)
    with signed_in(desk, role) as person:
        page = person.get(f"/admin/subscribers/{ids['gone']}")
        token = csrf_of(person, "/admin/subscribers")
        assert "Download CSV" not in person.get("/admin/subscribers").text
        answers = [
            person.post(
                f"/admin/subscribers/{ids['gone']}/status",
                data={"csrf": token, "status": "active", "reason": "x", "confirm": "yes"},
            ),
            person.post(
                f"/admin/subscribers/{ids['gone']}/forget",
                data={"csrf": token, "address": "gone@example.net", "confirm": "yes"},
            ),
            person.post("/admin/subscribers/export", data={"csrf": token}),
            person.post(
                f"/admin/suppressions/{ids['gone']}/lift",
                data={"csrf": token, "reason": "x", "confirm": "yes"},
            ),
        ]
    assert '<form class="action"' not in page.text
    assert [a.status_code for a in answers] == [403] * 4
    assert status_of(engine, "gone@example.net") == "bounced"
    assert audit_actions(engine) == []


def test_export_downloads_the_list_or_one_status_audited(
    desk: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_list(engine)
    with signed_in(desk, Role.ADMIN) as admin:
        token = form_csrf(admin.get("/admin/subscribers").text, "/admin/subscribers/export")
        whole = admin.post("/admin/subscribers/export", data={"csrf": token, "status": ""})
        bounced = admin.post("/admin/subscribers/export", data={"csrf": token, "status": "bounced"})
    assert whole.status_code == 200
    assert whole.headers["content-type"].startswith("text/csv")
    assert "attachment" in whole.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(whole.text)))
    assert sorted(r["email"] for r in rows) == [
        "ada@example.com",
        "gone@example.net",
        "grace@example.org",
    ]
    assert [r["email"] for r in csv.DictReader(io.StringIO(bounced.text))] == ["gone@example.net"]
    assert [a[:2] for a in audit_actions(engine)] == [
        ("subscriber export", "status: all"),
        ("subscriber export", "status: bounced"),
    ]


def test_the_scan_window_is_what_the_page_says(desk: str, engine: Engine) -> None:
    add_list(engine)
    with signed_in(desk, Role.VIEWER) as viewer:
        page = viewer.get("/admin/subscribers", params={"q": "x", "match": "contains"})
    assert f"reads {browsing.SCAN_WINDOW:,} subscribers per page at most" in page.text
