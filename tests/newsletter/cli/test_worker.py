"""`newsletter worker` as real processes, and `newsletter issue send --detach` that hands
them the send.

The workers run as `newsletter worker` subprocesses configured by environment alone, against
the SendGrid stand-in of this test process (which records what it received per address) and
the test's own database. Two workers sharing one send is PostgreSQL's case (batches claimed
with FOR UPDATE SKIP LOCKED); one worker stopped by SIGTERM runs on both databases.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from threading import Event

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings, get_settings
from newsletter.delivery.registry import make_backend
from newsletter.devtools.standin import StandIn
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.publishing.models import Issue
from newsletter.sending import BatchState, StandingWorker, issue_status
from tests.newsletter.sending.test_sender import KEY, People, add_subscribers, build, issue_row
from tests.newsletter.sending.test_sender_kill import settled

runner = CliRunner()
WORKER = [sys.executable, "-c", "from newsletter.cli.main import main; main()", "worker"]
WAIT = 60.0  # seconds before a test gives up on something that should happen
BATCH = 25  # recipients per request: small, so a send has many batches to share
LEASE = 2  # seconds: a dead worker's batches are reaped soon


@pytest.fixture
def standin_env() -> dict[str, str]:
    """The batch size the detached send is snapshotted with (by `issue send --detach`)."""
    return {"NEWSLETTER_BATCH_SIZE": str(BATCH)}


def _environment(settings: Settings, standin: StandIn) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env.update(
        NEWSLETTER_DATABASE_URL=settings.database_url,
        NEWSLETTER_SECRET_KEY=settings.secret_key,
        NEWSLETTER_SITE_URL=settings.site_url,
        NEWSLETTER_POSTAL_ADDRESS=settings.postal_address,
        NEWSLETTER_BACKEND="sendgrid",
        NEWSLETTER_SENDGRID_HOST=standin.url,
        SENDGRID_API_KEY=KEY,
        NEWSLETTER_BATCH_SIZE=str(BATCH),
        NEWSLETTER_SEND_CONCURRENCY="3",
        NEWSLETTER_SEND_RETRY_BASE="0.01",
        NEWSLETTER_SEND_LEASE=str(LEASE),
        NEWSLETTER_WORKER_POLL="0.1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


@contextmanager
def workers(
    count: int, environ: dict[str, str], cwd: Path
) -> Iterator[list[subprocess.Popen[str]]]:
    """`count` worker processes, each looking for sends already (so that a send started
    now is shared); any still running at the end are killed."""
    started = [
        subprocess.Popen(
            WORKER, env=environ, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(count)
    ]
    try:
        for process in started:
            assert process.stderr is not None
            said = ""
            for line in process.stderr:  # ends when the worker does
                said += line
                if "worker started" in line:
                    break
            assert "worker started" in said, said
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=WAIT)


def stopped(process: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGTERM, then the exit status and what it logged."""
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=WAIT)
    return process.returncode, err


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def detach(issue: Issue) -> None:
    sent = runner.invoke(app, ["issue", "send", str(issue.number), "--yes", "--detach"])
    assert sent.exit_code == 0, sent.output


def batches(engine: Engine, issue: Issue) -> list[tuple[str, str | None]]:
    """(state, owner) of each batch."""
    with session_scope(engine) as session:
        rows = session.connection().execute(
            text("SELECT state, owner FROM send_batch WHERE issue_id = :i ORDER BY seq"),
            {"i": issue.id},
        )
        return [(state, owner) for state, owner in rows]


def owned_by(owner: str | None, process: subprocess.Popen[str]) -> bool:
    return owner is not None and owner.split(":")[1] == str(process.pid)


def recipient_states(engine: Engine, issue: Issue) -> dict[str, str]:
    """{email: state} of the send's recipients."""
    with session_scope(engine) as session:
        rows = session.connection().execute(
            text(
                "SELECT s.email, r.state FROM send_recipient r "
                "JOIN subscriber s ON s.id = r.subscriber_id WHERE r.issue_id = :i"
            ),
            {"i": issue.id},
        )
        return {email: state for email, state in rows}


def postgresql_only(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("several workers share a send on PostgreSQL (FOR UPDATE SKIP LOCKED)")


def sent_issue(engine: Engine, issue: Issue) -> Callable[[], bool]:
    return lambda: issue_row(engine, issue).status == IssueStatus.SENT


# ------------------------------------------------------------------------------ tests


def test_detach_starts_the_send_and_leaves_it_to_the_workers(
    engine: Engine, env: Settings, through_standin: StandIn, tmp_path: Path
) -> None:
    issue = build(engine, env, tmp_path / "content")
    add_subscribers(engine, 25)

    both = runner.invoke(app, ["issue", "send", "1", "--yes", "--detach", "--dry-run"])
    assert both.exit_code == 1
    assert "--detach and --dry-run" in both.output
    assert issue_row(engine, issue).status == IssueStatus.DRAFT

    sent = runner.invoke(app, ["issue", "send", "1", "--yes", "--detach"])

    assert sent.exit_code == 0, sent.output
    assert "issue #1: sending (started) — 25 of 25 recipients to send" in sent.output
    assert "batches of 25" in runner.invoke(app, ["issue", "status", "1"]).output
    assert "`newsletter worker`" in sent.output
    assert through_standin.recipients() == []
    status = runner.invoke(app, ["issue", "status", "1"])
    assert "issue #1: sending" in status.output
    assert "│ queued (to send) │" in status.output
    assert set(recipient_states(engine, issue).values()) == {"queued"}


def test_two_workers_share_one_send_and_everyone_gets_it_once(
    engine: Engine, env: Settings, through_standin: StandIn, tmp_path: Path
) -> None:
    postgresql_only(engine)
    issue = build(engine, env, tmp_path / "content")
    people = add_subscribers(engine, 2000)
    through_standin.set_default_fault("slow", seconds=0.02)

    with workers(2, _environment(env, through_standin), tmp_path) as (one, two):
        detach(issue)
        wait_for(sent_issue(engine, issue), "the send to finish")
        ends = [stopped(one), stopped(two)]

    for code, err in ends:
        assert code == 0, err
        assert "Traceback" not in err
    received = through_standin.recipients()
    assert len(received) == len(set(received)), "somebody got the issue twice"
    assert sorted(received) == people.active_emails
    owners = [owner for _, owner in batches(engine, issue)]
    assert any(owned_by(owner, one) for owner in owners)  # both took a share
    assert any(owned_by(owner, two) for owner in owners)
    assert set(recipient_states(engine, issue).values()) == {"accepted"}


def test_kill_9_of_one_worker_and_the_other_finishes_the_send(
    engine: Engine, env: Settings, through_standin: StandIn, tmp_path: Path
) -> None:
    postgresql_only(engine)
    issue = build(engine, env, tmp_path / "content")
    people = add_subscribers(engine, 2000)
    through_standin.set_default_fault("slow", seconds=0.05)

    with workers(2, _environment(env, through_standin), tmp_path) as (victim, survivor):
        detach(issue)
        wait_for(
            lambda: any(
                state == "in_flight" and owned_by(owner, victim)
                for state, owner in batches(engine, issue)
            ),
            "the victim to claim batches",
        )
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=WAIT)  # reaped: a zombie would look alive
        wait_for(sent_issue(engine, issue), "the survivor to finish the send")
        code, err = stopped(survivor)
    settled(through_standin, quiet=0.5)

    assert code == 0, err
    received = through_standin.recipients()
    assert len(received) == len(set(received)), "somebody got the issue twice"
    states = recipient_states(engine, issue)
    accepted = {email for email, state in states.items() if state == "accepted"}
    unknown = {email for email, state in states.items() if state == "unknown"}
    assert sorted(states) == people.active_emails
    assert accepted | unknown == set(people.active_emails)
    assert accepted <= set(received)  # accepted means the stand-in has it, once
    assert set(received) <= accepted | unknown  # and nothing else went out
    dead = [(state, owner) for state, owner in batches(engine, issue) if owned_by(owner, victim)]
    assert BatchState.IN_FLIGHT.value not in {state for state, _ in dead}
    unknown_batches = [state for state, _ in dead if state == "unknown"]
    assert 1 <= len(unknown_batches) <= 3  # what it had in flight: its concurrency at most
    with session_scope(engine) as session:
        counts = issue_status(session, issue.number)
    assert counts.batch_count(BatchState.UNKNOWN) == len(unknown_batches)
    assert len(unknown) == sum(note.size for note in counts.unknown_batches)
    shown = runner.invoke(app, ["issue", "status", str(issue.number)])
    assert shown.exit_code == 0, shown.output
    assert "issue #1: sent" in shown.output
    assert "unknown batches" in shown.output
    for note in counts.unknown_batches:
        assert f"│ {note.seq} " in shown.output
        assert note.error is not None
        assert f":{victim.pid}:" in note.error


def test_sigterm_finishes_what_is_in_flight_and_leaves_the_send_to_the_next_worker(
    engine: Engine, env: Settings, through_standin: StandIn, tmp_path: Path
) -> None:
    issue = build(engine, env, tmp_path / "content")
    people: People = add_subscribers(engine, 400)
    through_standin.set_default_fault("slow", seconds=0.2)
    detach(issue)

    with workers(1, _environment(env, through_standin), tmp_path) as (first,):
        wait_for(lambda: through_standin.stats().accepted_requests >= 3, "the first answers")
        code, err = stopped(first)

    assert code == 0, err
    assert "SIGTERM: finishing the requests in flight" in err
    row = issue_row(engine, issue)
    assert (row.status, row.pause_cause) == (IssueStatus.SENDING, None)  # not paused
    states = [state for state, _ in batches(engine, issue)]
    assert "in_flight" not in states
    assert "unknown" not in states
    assert "pending" in states
    accepted = sorted(e for e, s in recipient_states(engine, issue).items() if s == "accepted")
    assert sorted(through_standin.recipients()) == accepted  # every answer was recorded

    through_standin.set_default_fault(None)
    get_settings.cache_clear()
    settings = get_settings()
    following = StandingWorker(engine, settings, lambda: make_backend(settings), Event())
    (report,) = following.one_pass()  # the next worker (here in this process) finishes it

    assert (report.outcome, report.status) == ("joined", IssueStatus.SENT)
    received = through_standin.recipients()
    assert len(received) == len(set(received)), "somebody got the issue twice"
    assert sorted(received) == people.active_emails
