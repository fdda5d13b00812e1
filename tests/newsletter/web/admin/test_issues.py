"""The desk's Issues pages over real HTTP: the list, one issue's page and its frames, each
action an editor takes (and its audit entry), what a viewer, a forged post and a state the
issue is not in are refused, and a send started from the desk going out through the outbox
while its progress route counts it."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
from sqlalchemy import Engine, text
from sqlmodel import select

from newsletter.accounts.roles import Role
from newsletter.analytics.issue_list import issue_page
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.publishing.models import Issue
from newsletter.web.security import FRAME_POLICY
from tests.newsletter.sending.test_sender import add_subscribers
from tests.newsletter.web.admin.desk import csrf_of, email_of, signed_in
from tests.newsletter.web.admin.issue_helpers import (
    audited,
    break_subject,
    built,
    status,
    wait_for_status,
)

PAGE = "/admin/issues/1"


def post(client: httpx.Client, action: str, **form: str) -> httpx.Response:
    """Post to the issue's `action` with the token its form on the page carries (or, where
    the page has no such form, the session's token from another form)."""
    page = client.get(PAGE).text
    found = re.search(
        rf'action="{PAGE}/{action}">\s*<input type="hidden" name="csrf" value="([^"]+)"', page
    )
    if f'action="{PAGE}/{action}"' in page:
        assert found, f"the {action} form carries no CSRF token"
    token = found[1] if found else csrf_of(client, PAGE)
    return client.post(f"{PAGE}/{action}", data={"csrf": token, **form})


def test_the_list_and_the_page(desk: str, engine: Engine, settings: Settings, tmp_path: Path):
    issue = built(engine, settings, tmp_path)
    with signed_in(desk, Role.EDITOR) as editor:
        listing = editor.get("/admin/issues")
        page = editor.get(PAGE)
        missing = editor.get("/admin/issues/99")
    assert listing.status_code == 200
    assert 'href="/admin/issues/1"' in listing.text
    assert "2026-W48" in listing.text
    assert "not sent yet" in listing.text
    assert page.status_code == 200
    for shown in (issue.subject, issue.preheader, 'src="/admin/issues/1/email"'):
        assert shown.replace("&", "&amp;") in page.text
    for action in ("approve", "hold", "cancel", "send", "test-send", "check"):
        assert f'action="/admin/issues/1/{action}"' in page.text
    assert 'action="/admin/issues/1/unapprove"' not in page.text  # a draft is not approved
    assert missing.status_code == 404
    assert "There is no issue #99" in missing.text
    assert 'href="/admin/issues"' in missing.text  # the desk's frame, not the public site's


def test_an_empty_list_says_what_to_do(desk: str) -> None:
    with signed_in(desk, Role.VIEWER) as viewer:
        listing = viewer.get("/admin/issues")
    assert listing.status_code == 200
    assert "newsletter issue build" in listing.text


def test_the_list_pages_by_number(engine: Engine) -> None:
    with session_scope(engine) as session:
        for n in range(1, 6):
            session.add(Issue(number=n, week=f"2026-W{n:02d}"))
    with session_scope(engine) as session:
        first = issue_page(session, None, limit=2)
        second = issue_page(session, first.before, limit=2)
        last = issue_page(session, second.before, limit=2)
    assert [r.number for r in first.rows] == [5, 4]
    assert [r.number for r in second.rows] == [3, 2]
    assert [r.number for r in last.rows] == [1]
    assert last.before is None


def test_the_frames_show_the_snapshot_under_the_frame_policy(
    desk: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    built(engine, settings, tmp_path)
    with signed_in(desk, Role.VIEWER) as viewer:
        frame = viewer.get(f"{PAGE}/email")
        page = viewer.get(PAGE)
    assert frame.status_code == 200
    assert frame.headers["content-security-policy"] == FRAME_POLICY
    assert frame.headers["x-frame-options"] == "SAMEORIGIN"
    assert "{{" not in frame.text  # the placeholders are filled for the sample reader
    assert "/unsubscribe/" in frame.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_each_action_of_an_editor_is_done_and_audited(
    desk: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    built(engine, settings, tmp_path)
    editor_email = email_of(Role.EDITOR)
    with signed_in(desk, Role.EDITOR) as editor:
        approved = post(editor, "approve", confirm="yes")
        assert approved.status_code == 303
        assert approved.headers["location"] == "/admin/issues/1?done=approve"
        assert status(engine) == IssueStatus.APPROVED
        assert "Approved." in editor.get(approved.headers["location"]).text
        assert post(editor, "hold", confirm="yes", reason="vendor reply").status_code == 303
        assert status(engine) == IssueStatus.HELD
        assert post(editor, "unapprove", confirm="yes", reason="").status_code == 303
        assert status(engine) == IssueStatus.DRAFT
        checked = post(editor, "check")
        assert checked.status_code == 200
        assert "Checks" in checked.text
        assert post(editor, "cancel", confirm="yes", reason="no news").status_code == 303
        assert status(engine) == IssueStatus.CANCELLED
        page = editor.get(PAGE)
    assert audited(engine) == [
        (editor_email, "issue approve", "issue #1", "approved"),
        (editor_email, "issue hold", "issue #1", "vendor reply"),
        (editor_email, "issue unapprove", "issue #1", f"unapprove by {editor_email}"),
        (editor_email, "issue check", "issue #1", "0 error(s), 0 warning(s)"),
        (editor_email, "issue cancel", "issue #1", "no news"),
    ]
    for action in ("approve", "hold", "cancel", "send", "unapprove", "test-send"):
        assert f'action="/admin/issues/1/{action}"' not in page.text  # cancelled: no way on


def test_a_state_the_issue_is_not_in_refuses_the_action(
    desk: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    built(engine, settings, tmp_path)
    with signed_in(desk, Role.EDITOR) as editor:
        assert post(editor, "cancel", confirm="yes", reason="").status_code == 303
        refused = post(editor, "approve", confirm="yes")
    assert refused.status_code == 409
    assert "Nothing was changed: cannot approve issue #1: it is cancelled" in refused.text
    assert "<h1>Issue #1" in refused.text  # the desk's page of the issue says so
    assert status(engine) == IssueStatus.CANCELLED
    assert [a[1] for a in audited(engine)] == ["issue cancel"]


def test_a_failing_check_refuses_the_approval(
    desk: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    built(engine, settings, tmp_path)
    break_subject(engine)
    with signed_in(desk, Role.EDITOR) as editor:
        refused = post(editor, "approve", confirm="yes")
        checked = post(editor, "check")
    assert refused.status_code == 403
    assert "Nothing was changed: issue #1 cannot go out: the checks found" in refused.text
    assert status(engine) == IssueStatus.DRAFT
    assert 'class="error"' in checked.text
    assert [a[1] for a in audited(engine)] == ["issue check"]  # the refusal logged nothing


def test_an_unticked_confirmation_changes_nothing(
    desk: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    built(engine, settings, tmp_path)
    with signed_in(desk, Role.EDITOR) as editor:
        refused = post(editor, "cancel", reason="oops")
    assert refused.status_code == 422
    assert "tick the box to confirm" in refused.text
    assert status(engine) == IssueStatus.DRAFT
    assert audited(engine) == []


def test_a_viewer_has_no_buttons_and_a_forged_post_is_refused(
    desk: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    built(engine, settings, tmp_path)
    with signed_in(desk, Role.VIEWER) as viewer:
        page = viewer.get(PAGE)
        token = csrf_of(viewer, PAGE)  # the sign-out form's: the viewer's own session
        forged = {
            action: viewer.post(f"{PAGE}/{action}", data={"csrf": token, "confirm": "yes"})
            for action in ("approve", "hold", "cancel", "send", "check")
        }
        tested = viewer.post(f"{PAGE}/test-send", data={"csrf": token, "email": "x@example.com"})
    assert page.status_code == 200
    assert "/admin/issues/1/approve" not in page.text
    assert "Actions" not in page.text
    assert {a: r.status_code for a, r in forged.items()} == dict.fromkeys(forged, 403)
    assert "does not allow this" in forged["approve"].text
    assert tested.status_code == 403
    assert status(engine) == IssueStatus.DRAFT
    assert audited(engine) == []


def test_a_post_without_the_csrf_token_changes_nothing(
    desk: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    built(engine, settings, tmp_path)
    with signed_in(desk, Role.EDITOR) as editor:
        bare = editor.post(f"{PAGE}/approve", data={"confirm": "yes"})
        wrong = editor.post(f"{PAGE}/approve", data={"confirm": "yes", "csrf": "not-it"})
    assert bare.status_code == wrong.status_code == 403
    assert "Form expired" in bare.text
    assert status(engine) == IssueStatus.DRAFT
    assert audited(engine) == []


def test_a_send_from_the_desk_goes_out_and_its_progress_counts_it(
    desk: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    built(engine, settings, tmp_path)
    add_subscribers(engine, 25)
    settings.batch_size = 10
    with signed_in(desk, Role.EDITOR) as editor:
        assert post(editor, "approve", confirm="yes").status_code == 303
        page = editor.get(PAGE)
        assert "Send it to 25 active subscriber(s) now" in page.text
        snapshot = page.text.split('name="snapshot" value="', 1)[1].split('"', 1)[0]
        started = post(editor, "send", confirm="yes", shown_status="approved", snapshot=snapshot)
        assert started.status_code == 303
        assert started.headers["location"] == "/admin/issues/1?done=send"
        assert wait_for_status(engine, IssueStatus.SENT) == IssueStatus.SENT
        progress = editor.get(f"{PAGE}/progress").json()
        page = editor.get(PAGE)
        again = post(editor, "send", confirm="yes", shown_status="sent", snapshot=snapshot)
    assert progress | {"rate": 0} == {
        "number": 1,
        "status": "sent",
        "live": False,
        "audience": 25,
        "done": 25,
        "accepted": 25,
        "failed": 0,
        "unknown": 0,
        "skipped": 0,
        "queued": 0,
        "retried": 0,
        "rate": 0,
        "running_here": False,
    }
    assert 'data-figure="accepted">25<' in page.text
    assert again.status_code == 409  # sent: nothing to start
    assert len(list(settings.outbox_dir.rglob("*.eml"))) == 25
    assert [a[1] for a in audited(engine)] == ["issue approve", "issue send"]


def test_a_send_refuses_a_snapshot_other_than_the_one_shown(
    desk: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    built(engine, settings, tmp_path)
    add_subscribers(engine, 3)
    with signed_in(desk, Role.EDITOR) as editor:
        refused = post(editor, "send", confirm="yes", shown_status="draft", snapshot="0" * 64)
    assert refused.status_code == 409
    assert "changed since the page showed it" in refused.text
    time.sleep(0.2)
    assert status(engine) == IssueStatus.DRAFT
    assert not settings.outbox_dir.exists() or not list(settings.outbox_dir.rglob("*.eml"))


def test_a_test_send_goes_to_the_typed_address(
    desk: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    built(engine, settings, tmp_path)
    with signed_in(desk, Role.EDITOR) as editor:
        sent = post(editor, "test-send", email="proof@example.com")
        bad = post(editor, "test-send", email="not an address")
    assert sent.status_code == 303
    assert sent.headers["location"] == "/admin/issues/1?done=test-send"
    files = list(settings.outbox_dir.rglob("*.eml"))
    assert len(files) == 1
    assert "proof@example.com" in files[0].read_text()
    assert bad.status_code == 422
    assert "Nothing was changed" in bad.text
    with session_scope(engine) as session:
        assert session.exec(select(Issue.status)).one() == IssueStatus.DRAFT
    assert audited(engine) == [
        (email_of(Role.EDITOR), "issue test-send", "issue #1", "to an address at example.com")
    ]


def test_a_sending_issue_refreshes_its_figures_with_or_without_javascript(
    desk: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    built(engine, settings, tmp_path)
    with session_scope(engine) as session:
        session.connection().execute(text("UPDATE issue SET status = 'sending'"))
    with signed_in(desk, Role.VIEWER) as viewer:
        page = viewer.get(PAGE)
        script = viewer.get("/static/issue-progress.js")
        progress = viewer.get(f"{PAGE}/progress").json()
    assert '<noscript><meta http-equiv="refresh" content="10"></noscript>' in page.text
    assert '<script src="/static/issue-progress.js" defer></script>' in page.text
    assert 'data-progress-url="/admin/issues/1/progress"' in page.text
    assert '<a href="/admin/issues/1">Refresh</a>' in page.text
    assert script.status_code == 200
    assert "data-figure" in script.text or "dataset.figure" in script.text
    assert progress["live"] is True
    assert progress["status"] == "sending"
