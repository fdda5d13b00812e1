"""`newsletter issue status` naming the unknown recipients nobody heard of, and
`newsletter issue resend-unknown`: the warning before the question, the question, --yes,
and the refusal without a terminal."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from newsletter.cli import send
from newsletter.cli.main import app
from newsletter.core.clock import utcnow
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings, get_settings
from newsletter.devtools.standin import StandIn
from newsletter.sending.ledger import RecipientState, new_owner, retire_owner
from newsletter.tracking.unknown import mark_batch, unsettled
from tests.newsletter.sending.test_sender import add_subscribers, build

runner = CliRunner()
WARNING = "This is the only command that can send someone an issue twice"


@pytest.fixture
def standin_env() -> dict[str, str]:
    return {"NEWSLETTER_SEND_CONCURRENCY": "1"}


@pytest.fixture
def lost(engine: Engine, env: Settings, through_standin: StandIn, tmp_path: Path) -> list[str]:
    """Issue #1 sent to 30; the second request was dropped before SendGrid took it, and
    NEWSLETTER_SETTLE_AFTER has passed since with no event: the ten addresses."""
    build(engine, env, tmp_path / "content")
    people = add_subscribers(engine, 30, inactive_every=1000)
    through_standin.inject("slow", seconds=0)
    through_standin.inject("drop_before")
    sent = runner.invoke(app, ["issue", "send", "1", "--yes"])
    assert sent.exit_code == 1, sent.output
    with session_scope(engine) as session:
        connection = session.connection()
        connection.execute(
            text("UPDATE send_batch SET finished_at = :t WHERE state = 'unknown'"),
            {"t": utcnow() - timedelta(hours=3)},
        )
        ids = connection.execute(
            text("SELECT subscriber_id FROM send_recipient WHERE state = :s"),
            {"s": RecipientState.UNKNOWN.value},
        )
        return sorted(people.active[sid] for (sid,) in ids)


def test_status_lists_the_unsettled_with_the_command_to_run(lost: list[str]) -> None:
    status = runner.invoke(app, ["issue", "status", "1"])

    assert status.exit_code == 0, status.output
    said = " ".join(status.output.split())
    assert "10 unknown recipient(s) with no event from the provider after 2 h 00 min:" in said
    assert ", ".join(lost[:5]) + ", … (5 more)" in said
    assert "`newsletter issue resend-unknown 1`" in said


def test_without_a_terminal_it_warns_and_refuses_unless_yes(
    lost: list[str], through_standin: StandIn
) -> None:
    requests = through_standin.stats().requests

    refused = runner.invoke(app, ["issue", "resend-unknown", "1"])

    assert refused.exit_code == 1
    said = " ".join(refused.output.split())
    assert said.index(WARNING) < said.index("pass --yes")
    assert "issue #1: 10 unknown recipient(s)" in said
    assert through_standin.stats().requests == requests

    sent = runner.invoke(app, ["issue", "resend-unknown", "1", "--yes"])

    assert sent.exit_code == 0, sent.output
    said = " ".join(sent.output.split())
    assert "issue #1 re-sent: 10 accepted, 0 failed, 0 unknown, 0 skipped" in said
    assert "issue #1: sent" in said
    assert sorted(through_standin.recipients()[-10:]) == lost
    assert len(through_standin.recipients()) == 30  # each once

    status = runner.invoke(app, ["issue", "status", "1"])
    assert "resend-unknown" not in status.output
    nothing = runner.invoke(app, ["issue", "resend-unknown", "1", "--yes"])
    assert nothing.exit_code == 0, nothing.output
    assert "nothing to send" in nothing.output
    assert len(through_standin.recipients()) == 30


def test_on_a_terminal_it_asks_after_the_warning(
    lost: list[str], through_standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(send, "is_terminal", lambda: True)
    requests = through_standin.stats().requests

    declined = runner.invoke(app, ["issue", "resend-unknown", "1"], input="n\n")

    assert declined.exit_code == 1
    said = " ".join(declined.output.split())
    assert said.index(WARNING) < said.index("Send issue #1 again to them?")
    assert "issue #1 was not re-sent" in said
    assert through_standin.stats().requests == requests

    accepted = runner.invoke(app, ["issue", "resend-unknown", "1"], input="y\n")

    assert accepted.exit_code == 0, accepted.output
    assert sorted(through_standin.recipients()[-10:]) == lost
    assert through_standin.stats().requests == requests + 1


def test_a_resend_that_fails_exits_1(lost: list[str], through_standin: StandIn) -> None:
    through_standin.inject("error", status=400)

    failed = runner.invoke(app, ["issue", "resend-unknown", "1", "--yes"])

    assert failed.exit_code == 1
    said = " ".join(failed.output.split())
    assert "issue #1 re-sent: 0 accepted, 10 failed" in said
    assert "10 re-send(s) failed" in said


def test_a_resend_that_died_with_everyone_marked_is_reaped_by_the_next_command(
    engine: Engine, lost: list[str], through_standin: StandIn
) -> None:
    """Review defect: a re-send killed after marking every unsettled recipient left them
    `queued` in a batch in flight under a dead owner, the list of unsettled was empty, and
    the command said "nothing to send" without ever reaping that batch. Now the command
    reaps it first: the batch is `unknown` again (its request may have gone), nothing is
    sent, and its recipients are offered again after another NEWSLETTER_SETTLE_AFTER."""
    settings = get_settings()
    with session_scope(engine, immediate=True) as session:
        issue_id = session.connection().execute(text("SELECT id FROM issue")).scalar_one()
        ids = [
            u.subscriber_id
            for u in unsettled(session, 1, settle_after=settings.settle_after, now=utcnow())
        ]
        owner = new_owner()
        marked = mark_batch(
            session,
            issue_id,
            ids,
            owner,
            settle_after=settings.settle_after,
            now=utcnow(),
            lease=60,
        )
    assert marked is not None
    assert marked[1] == len(lost)
    retire_owner(owner)  # the process that marked them is gone
    requests = through_standin.stats().requests

    result = runner.invoke(app, ["issue", "resend-unknown", "1", "--yes"])

    assert result.exit_code == 0, result.output
    assert "nothing to send" in result.output
    assert through_standin.stats().requests == requests
    with session_scope(engine) as session:
        states: dict[str, int] = dict(
            session.connection()
            .execute(
                text("SELECT state, COUNT(*) FROM send_batch WHERE seq = :s GROUP BY state"),
                {"s": marked[0]},
            )
            .all()
        )
        queued = (
            session.connection()
            .execute(text("SELECT COUNT(*) FROM send_recipient WHERE state = 'queued'"))
            .scalar_one()
        )
    assert states == {"unknown": 1}
    assert queued == 0
    later = utcnow() + settings.settle_after + timedelta(minutes=1)
    with session_scope(engine) as session:
        again = unsettled(session, 1, settle_after=settings.settle_after, now=later)
    assert sorted(u.email for u in again) == lost
