"""`newsletter issue send|status|test-send` as an operator runs them, and the decision a
send of a draft needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from newsletter.cli import send
from newsletter.cli.main import app
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings, get_settings
from newsletter.devtools.standin import StandIn
from newsletter.publishing.composition import remove_comparison
from newsletter.publishing.issues import move_issue
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.sending import SendDecision, send_decision
from tests.newsletter.publishing.helpers import stored
from tests.newsletter.sending.test_sender import (
    add_subscribers,
    build,
)

runner = CliRunner()


def test_send_status_and_resend(
    engine: Engine, env: Settings, through_standin: StandIn, tmp_path: Path
) -> None:
    build(engine, env, tmp_path / "content")
    add_subscribers(engine, 25)

    sent = runner.invoke(app, ["issue", "send", "--week", "2026-W48", "--yes"])

    assert sent.exit_code == 0, sent.output
    assert "issue #1: sent — 25 accepted, 0 skipped, 0 failed, 0 unknown" in sent.output
    assert "this run (started): 25 accepted" in sent.output
    status = runner.invoke(app, ["issue", "status", "1"])
    assert status.exit_code == 0, status.output
    assert "issue #1: sent" in status.output
    assert "│ accepted " in status.output
    assert "batches of 10" in status.output
    again = runner.invoke(app, ["issue", "send", "1"])
    assert again.exit_code == 0, again.output
    assert "issue #1 was already sent" in again.output
    assert len(through_standin.recipients()) == 25


def test_a_wrong_key_is_one_clear_line_and_the_send_pauses(
    engine: Engine,
    env: Settings,
    through_standin: StandIn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    build(engine, env, tmp_path / "content")
    add_subscribers(engine, 25)
    monkeypatch.setenv("SENDGRID_API_KEY", "wrong-key")
    get_settings.cache_clear()

    refused = runner.invoke(app, ["issue", "send", "1", "--yes"])

    assert refused.exit_code == 1
    assert "error: stopped: SendGrid answered 401" in refused.output
    assert "Traceback" not in refused.output
    status = runner.invoke(app, ["issue", "status", "1"])
    assert "issue #1: paused" in status.output
    assert "│ queued (to send) │" in status.output


def test_dry_run_and_test_send(
    engine: Engine, env: Settings, through_standin: StandIn, tmp_path: Path
) -> None:
    build(engine, env, tmp_path / "content")
    add_subscribers(engine, 12)

    dry = runner.invoke(app, ["issue", "send", "1", "--dry-run"])
    test = runner.invoke(app, ["issue", "test-send", "editor@example.com"])

    assert dry.exit_code == 0, dry.output
    assert "12 of 12 recipients validated by sendgrid in sandbox mode" in dry.output
    assert "nothing was delivered or recorded" in dry.output
    assert test.exit_code == 0, test.output
    assert "test of issue #1 sent to editor@example.com through sendgrid" in test.output
    assert through_standin.recipients() == ["editor@example.com"]
    status = runner.invoke(app, ["issue", "status", "1"])
    assert "not sent yet" in status.output


def test_errors_are_one_line(engine: Engine, env: Settings) -> None:
    missing = runner.invoke(app, ["issue", "send", "9"])
    assert missing.exit_code == 1
    assert "error: there is no issue #9" in missing.output
    no_week = runner.invoke(app, ["issue", "send", "--week", "2026-W01"])
    assert "error: there is no issue for 2026-W01; build it first" in no_week.output
    no_issue = runner.invoke(app, ["issue", "test-send", "ed@example.com"])
    assert no_issue.exit_code == 1
    assert "error: no issue is in the works (none is a draft, held or approved" in (no_issue.output)


def test_a_draft_goes_out_only_on_an_explicit_yes(
    engine: Engine,
    env: Settings,
    through_standin: StandIn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nobody approved a draft: sending it is asked on a terminal (subject, audience), and
    refused without one unless --yes says so."""
    issue = build(engine, env, tmp_path / "content")
    add_subscribers(engine, 12)

    unattended = runner.invoke(app, ["issue", "send", "1"])

    assert unattended.exit_code == 1
    assert "error: issue #1 is a draft nobody approved; approve it" in unattended.output
    assert "or pass --yes" in unattended.output
    monkeypatch.setattr(send, "is_terminal", lambda: True)
    declined = runner.invoke(app, ["issue", "send", "1"], input="n\n")
    assert declined.exit_code == 1
    assert f"subject: {issue.subject}" in declined.output
    assert "to:      12 active subscriber(s)" in declined.output
    assert "Send it now? [y/N]" in declined.output
    assert "error: issue #1 was not sent" in declined.output
    assert through_standin.recipients() == []
    assert runner.invoke(app, ["issue", "status", "1"]).output.count("not sent yet") == 1

    accepted = runner.invoke(app, ["issue", "send", "1"], input="y\n")

    assert accepted.exit_code == 0, accepted.output
    assert "issue #1: sent — 12 accepted" in accepted.output
    assert len(through_standin.recipients()) == 12


def test_an_approved_issue_is_sent_without_a_question_and_failures_exit_1(
    engine: Engine, env: Settings, through_standin: StandIn, tmp_path: Path
) -> None:
    build(engine, env, tmp_path / "content")
    add_subscribers(engine, 30)  # three batches of 10: whichever meets the fault, 10 fail
    assert runner.invoke(app, ["issue", "hold", "1"]).exit_code == 0
    held = runner.invoke(app, ["issue", "send", "1", "--yes"])
    assert held.exit_code == 1
    assert "error: issue #1 is held; only draft or approved issues are sent" in held.output
    assert runner.invoke(app, ["issue", "approve", "1"]).exit_code == 0
    through_standin.inject("error", status=400, message="The content value must be a string")

    sent = runner.invoke(app, ["issue", "send", "1"])  # no terminal, no --yes: approved

    assert sent.exit_code == 1, sent.output
    summary = " ".join(sent.output.split())
    assert "issue #1: sent — 20 accepted, 0 skipped, 10 failed, 0 unknown" in summary
    assert "error: issue #1 did not reach everyone: 10 recipient(s) failed, 0 unknown" in summary
    assert len(through_standin.recipients()) == 20


def test_a_yes_holds_only_for_the_draft_it_was_given_for(
    engine: Engine,
    env: Settings,
    through_standin: StandIn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the question waits, an editor takes a comparison out in another shell: the yes
    was given to the text shown, so the changed text does not go out on it."""
    issue = build(engine, env, tmp_path / "content")
    add_subscribers(engine, 12)
    monkeypatch.setattr(send, "is_terminal", lambda: True)

    def yes_after_an_edit_elsewhere(*_: Any, **__: Any) -> bool:
        with session_scope(engine, immediate=True) as session:  # `issue remove` meanwhile
            remove_comparison(session, issue.number, "c1", env)
        return True

    monkeypatch.setattr(typer, "confirm", yes_after_an_edit_elsewhere)

    stale = runner.invoke(app, ["issue", "send", "1"])

    assert stale.exit_code == 1, stale.output
    assert f"subject: {issue.subject}" in stale.output
    assert "error: issue #1 changed since you confirmed; run the command again" in stale.output
    assert "Traceback" not in stale.output
    assert through_standin.recipients() == []
    assert stored(engine, 1).status == IssueStatus.DRAFT
    monkeypatch.setattr(typer, "confirm", lambda *_, **__: True)

    again = runner.invoke(app, ["issue", "send", "1"])  # asked again, on the new text

    assert again.exit_code == 0, again.output
    assert f"subject: {stored(engine, 1).subject}" in again.output
    assert len(through_standin.recipients()) == 12


def test_an_approved_issue_changed_elsewhere_is_not_sent_as_a_draft(
    engine: Engine,
    env: Settings,
    through_standin: StandIn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The send read an approved issue (so asked nothing); before it started, someone
    unapproved and changed it: it is refused, not sent as a draft nobody said yes to."""
    build(engine, env, tmp_path / "content")
    add_subscribers(engine, 12)
    assert runner.invoke(app, ["issue", "approve", "1"]).exit_code == 0
    read = send_decision

    def read_then_changed_elsewhere(session: Session, number: int) -> SendDecision:
        decision = read(session, number)
        with session_scope(engine, immediate=True) as other:
            move_issue(other, number, "unapprove")
            remove_comparison(other, number, "c2", env)
        return decision

    monkeypatch.setattr("newsletter.cli.send.send_decision", read_then_changed_elsewhere)

    refused = runner.invoke(app, ["issue", "send", "1"])

    assert refused.exit_code == 1, refused.output
    assert "error: issue #1 changed since you confirmed; run the command again" in (refused.output)
    assert through_standin.recipients() == []
    assert stored(engine, 1).status == IssueStatus.DRAFT


def test_recipients_left_unknown_alone_exit_1(
    engine: Engine, env: Settings, through_standin: StandIn, tmp_path: Path
) -> None:
    """No recipient failed, but a batch's answer was lost (the connection dropped after
    SendGrid took it): nobody knows whether those readers got it, so the send exits 1."""
    build(engine, env, tmp_path / "content")
    add_subscribers(engine, 30)
    assert runner.invoke(app, ["issue", "approve", "1"]).exit_code == 0
    through_standin.inject("drop")

    sent = runner.invoke(app, ["issue", "send", "1"])

    assert sent.exit_code == 1, sent.output
    summary = " ".join(sent.output.split())
    assert "issue #1: sent — 20 accepted, 0 skipped, 0 failed, 10 unknown" in summary
    assert "error: issue #1 did not reach everyone: 0 recipient(s) failed, 10 unknown" in summary


def test_a_test_send_without_a_number_sends_the_issue_being_worked_on(
    engine: Engine, env: Settings, through_standin: StandIn, tmp_path: Path
) -> None:
    """The newest issue was cancelled: the test goes out for the issue `issue check` and the
    preview show, the one still being worked on, not for the cancelled one."""
    build(engine, env, tmp_path / "content")  # issue #1, 2026-W48
    assert runner.invoke(app, ["issue", "remove", "1", "c2"]).exit_code == 0
    assert runner.invoke(app, ["issue", "build", "--week", "2026-W49"]).exit_code == 0
    assert runner.invoke(app, ["issue", "cancel", "2"]).exit_code == 0

    test = runner.invoke(app, ["issue", "test-send", "editor@example.com"])

    assert test.exit_code == 0, test.output
    assert "test of issue #1 sent to editor@example.com" in test.output
    assert through_standin.recipients() == ["editor@example.com"]
