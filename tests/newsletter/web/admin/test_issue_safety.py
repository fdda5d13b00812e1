"""What the security review found in the desk's issue actions: a stale "Send now" form
must not resume a send that paused itself, the page says why a send paused, a test send
refuses a forgotten address and the log keeps no address, and the send thread starts only
after the transaction that recorded it has committed."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, text

from newsletter.accounts.audit import Actor, Audited, record
from newsletter.accounts.roles import Role
from newsletter.core.clock import utcnow
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.publishing.lifecycle import IssueStatus
from subscribers.service import forget
from tests.newsletter.sending.test_sender import add_subscribers
from tests.newsletter.web.admin.desk import signed_in
from tests.newsletter.web.admin.issue_helpers import audited, built, status
from tests.newsletter.web.admin.test_issues import PAGE, post


def _outbox(settings: Settings) -> list[Path]:
    return list(settings.outbox_dir.rglob("*.eml")) if settings.outbox_dir.exists() else []


def _pause_itself(engine: Engine) -> None:
    """As the deliverability check leaves an issue: paused, cause `deliverability`."""
    with session_scope(engine) as session:
        session.connection().execute(
            text(
                "UPDATE issue SET status = 'paused', pause_cause = 'deliverability', "
                "status_reason = 'paused for deliverability' WHERE number = 1"
            )
        )


def test_a_stale_send_now_form_does_not_resume_a_send_that_paused_itself(
    desk: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    built(engine, settings, tmp_path)
    add_subscribers(engine, 3)
    with signed_in(desk, Role.EDITOR) as editor:
        assert post(editor, "approve", confirm="yes").status_code == 303
        page = editor.get(PAGE).text
        snapshot = page.split('name="snapshot" value="', 1)[1].split('"', 1)[0]
        _pause_itself(engine)  # the send ran and paused itself while the form stayed open
        stale = post(editor, "send", confirm="yes", shown_status="approved", snapshot=snapshot)
        paused = editor.get(PAGE).text
    assert stale.status_code == 409
    assert "changed since the page showed it" in stale.text
    time.sleep(0.2)
    assert status(engine) == IssueStatus.PAUSED
    assert [a[1] for a in audited(engine)] == ["issue approve"]
    assert not _outbox(settings)
    assert 'id="pause-cause"' in paused
    assert "Look at the bounces and complaints" in paused


def test_a_test_send_refuses_a_forgotten_address_and_logs_no_address(
    desk: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    built(engine, settings, tmp_path)
    with session_scope(engine) as session:
        forget(session, "gone@example.org")  # its tombstone: the row is gone
    with signed_in(desk, Role.EDITOR) as editor:
        refused = post(editor, "test-send", email="gone@example.org")
        sent = post(editor, "test-send", email="Reader@Example.ORG")
    assert refused.status_code == 403
    assert "forgotten" in refused.text
    files = _outbox(settings)
    assert len(files) == 1
    assert "gone@example.org" not in files[0].read_text()
    assert sent.status_code == 303
    details = [a[3] for a in audited(engine)]
    assert details == ["to an address at example.org"]
    with session_scope(engine) as session:
        logged = session.connection().execute(text("SELECT actor, target, detail FROM audit_entry"))
        assert not any("reader@" in " ".join(row).lower() for row in logged)


def _fail_commits_that_log_a_send(engine: Engine) -> None:
    """A deferred foreign key that an `issue send` log entry breaks: the request's
    transaction fails at its commit, after everything in it succeeded."""
    with session_scope(engine) as session:
        run = session.connection().execute
        run(
            text(
                "CREATE TABLE send_guard (issue_id INTEGER REFERENCES issue(id) "
                "DEFERRABLE INITIALLY DEFERRED)"
            )
        )
        if engine.dialect.name == "sqlite":
            run(
                text(
                    "CREATE TRIGGER send_guard AFTER INSERT ON audit_entry "
                    "WHEN NEW.action = 'issue send' "
                    "BEGIN INSERT INTO send_guard VALUES (-1); END"
                )
            )
        else:
            run(
                text(
                    "CREATE FUNCTION send_guard() RETURNS trigger AS $$ BEGIN "
                    "INSERT INTO send_guard VALUES (-1); RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            run(
                text(
                    "CREATE TRIGGER send_guard AFTER INSERT ON audit_entry FOR EACH ROW "
                    "WHEN (NEW.action = 'issue send') EXECUTE FUNCTION send_guard()"
                )
            )


def test_a_send_whose_commit_fails_never_starts(
    desk: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    built(engine, settings, tmp_path)
    add_subscribers(engine, 3)
    _fail_commits_that_log_a_send(engine)
    with signed_in(desk, Role.EDITOR) as editor:
        page = editor.get(PAGE).text
        snapshot = page.split('name="snapshot" value="', 1)[1].split('"', 1)[0]
        failed = post(editor, "send", confirm="yes", shown_status="draft", snapshot=snapshot)
    assert failed.status_code == 500
    time.sleep(1)
    assert status(engine) == IssueStatus.DRAFT
    assert audited(engine) == []
    assert not _outbox(settings)


def test_test_sends_of_an_issue_are_limited_per_hour(
    desk: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    built(engine, settings, tmp_path)
    with session_scope(engine) as session:
        editor_of_old = Actor(None, "earlier@team.example")
        record(
            session,
            editor_of_old,
            Audited.ISSUE_TEST_SEND,
            "issue #1",
            "older",
            at=utcnow() - timedelta(minutes=61),
        )
        for _ in range(19):
            record(session, editor_of_old, Audited.ISSUE_TEST_SEND, "issue #1", "recent")
    with signed_in(desk, Role.EDITOR) as editor:
        twentieth = post(editor, "test-send", email="proof@example.com")
        refused = post(editor, "test-send", email="proof@example.com")
    assert twentieth.status_code == 303  # the one older than an hour does not count
    assert refused.status_code == 409
    assert "20 test sends in the last hour" in refused.text
    assert len(_outbox(settings)) == 1
