"""`newsletter issue send|status|test-send` as an operator runs them, and the decision a
send of a draft needs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from newsletter.cli import send
from newsletter.cli.main import app
from newsletter.core.settings import Settings, get_settings
from newsletter.devtools.standin import StandIn
from tests.newsletter.sending.test_sender import (
    KEY,
    add_subscribers,
    build,
)

runner = CliRunner()


@pytest.fixture
def through_standin(env: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    """The CLI configured, by environment alone, to send through a stand-in."""
    with StandIn(api_keys=[KEY]) as standin:
        for name, value in {
            "NEWSLETTER_BACKEND": "sendgrid",
            "NEWSLETTER_SENDGRID_HOST": standin.url,
            "SENDGRID_API_KEY": KEY,
            "NEWSLETTER_BATCH_SIZE": "10",
            "NEWSLETTER_SEND_RETRY_BASE": "0.01",
        }.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield standin


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
    assert "error: there is no issue yet" in no_issue.output


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
