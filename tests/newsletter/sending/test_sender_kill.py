"""kill -9 in the middle of a send, again and again, then resume: nobody gets the issue
twice, nobody is skipped, and what was in flight at a kill is `unknown`, counted and named.

The sender runs as `newsletter issue send` in a subprocess, against the SendGrid stand-in of
this process answering slowly, so every kill lands with requests in flight.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, text
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.devtools.standin import StandIn
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.sending import BatchState, issue_status
from tests.newsletter.sending.test_sender import (
    KEY,
    add_subscribers,
    build,
    issue_row,
)

SEED = 20261125
KILLS = 3
CONCURRENCY = 3
SENDER = [
    sys.executable,
    "-c",
    "from newsletter.cli.main import main; main()",
    "issue",
    "send",
    "--yes",  # the issue is a draft, and no person is there to answer
]


def _environment(settings: Settings, standin: StandIn) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env.update(
        NEWSLETTER_DATABASE_URL=settings.database_url,
        NEWSLETTER_SECRET_KEY=settings.secret_key,
        NEWSLETTER_SITE_URL=settings.site_url,
        NEWSLETTER_POSTAL_ADDRESS=settings.postal_address,  # as rendered: the checks compare
        NEWSLETTER_BACKEND="sendgrid",
        NEWSLETTER_SENDGRID_HOST=standin.url,
        SENDGRID_API_KEY=KEY,
        NEWSLETTER_BATCH_SIZE="10",
        NEWSLETTER_SEND_CONCURRENCY=str(CONCURRENCY),
        NEWSLETTER_SEND_RETRY_BASE="0.01",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


def settled(standin: StandIn, quiet: float = 0.3) -> None:
    """Wait until the stand-in has finished the slow requests of killed senders: no request
    answered for `quiet` seconds."""
    last, quiet_since = -1, time.monotonic()
    while time.monotonic() - quiet_since < quiet:
        now = standin.stats()
        seen = now.accepted_requests + now.rejected_requests
        if seen != last:
            last, quiet_since = seen, time.monotonic()
        time.sleep(0.05)


def test_kill_9_mid_send_then_resume(engine: Engine, env: Settings, tmp_path: Path) -> None:
    settings = env
    rng = random.Random(SEED)
    issue = build(engine, settings, tmp_path / "content")
    people = add_subscribers(engine, 300)
    kills = 0
    with StandIn(api_keys=[KEY]) as standin:
        standin.set_default_fault("slow", seconds=0.04)
        environ = _environment(settings, standin)
        command = [*SENDER, str(issue.number)]
        for _ in range(KILLS):
            target = standin.stats().requests + rng.randint(1, 8)
            sender = subprocess.Popen(
                command, env=environ, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            deadline = time.monotonic() + 30
            while (
                standin.stats().requests < target
                and sender.poll() is None
                and time.monotonic() < deadline
            ):
                time.sleep(0.005)
            time.sleep(rng.uniform(0, 0.03))
            if sender.poll() is None:
                sender.send_signal(signal.SIGKILL)
                kills += 1
            sender.communicate(timeout=30)  # and reaped: a zombie would look alive
        final = subprocess.run(
            command, env=environ, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        settled(standin)
        received = standin.recipients()

    assert kills == KILLS
    assert len(received) == len(set(received)), "somebody got the issue twice"
    with session_scope(engine) as session:
        rows = session.connection().execute(
            text(
                "SELECT s.email, r.state FROM send_recipient r "
                "JOIN subscriber s ON s.id = r.subscriber_id WHERE r.issue_id = :i"
            ),
            {"i": issue.id},
        )
        states: dict[str, str] = {email: state for email, state in rows}
        counts = issue_status(session, issue.number)
    accepted = {email for email, state in states.items() if state == "accepted"}
    unknown = {email for email, state in states.items() if state == "unknown"}
    assert sorted(states) == people.active_emails  # nobody skipped, nobody extra
    assert accepted | unknown == set(people.active_emails)
    assert accepted <= set(received)  # accepted means SendGrid has it, once
    assert set(received) <= accepted | unknown  # and nothing else went out
    assert issue_row(engine, issue).status == IssueStatus.SENT
    # The last run finished the send; it exits 1 when recipients ended unknown, saying so.
    assert final.returncode == (1 if unknown else 0), final.stdout + final.stderr
    if unknown:
        assert f"0 recipient(s) failed, {len(unknown)} unknown" in final.stderr
    unknown_batches = counts.batch_count(BatchState.UNKNOWN)
    assert unknown_batches <= KILLS * CONCURRENCY  # only what was in flight at a kill
    assert len(unknown) == sum(note.size for note in counts.unknown_batches)
    if unknown:
        assert counts.status_reason is not None
        assert f"{unknown_batches} batch(es), {len(unknown)} recipient(s) unknown" in (
            counts.status_reason
        )
        shown = CliRunner().invoke(app, ["issue", "status", str(issue.number)])
        assert shown.exit_code == 0, shown.output
        assert "unknown batches" in shown.output
        for note in counts.unknown_batches:
            assert f"│ {note.seq} " in shown.output
