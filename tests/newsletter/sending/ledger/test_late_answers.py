"""A sender stalled past its lease, then answered: the answer settles the batch another
sender declared `unknown`, and never reopens it behind a finished send.

The stalled sender is a real `send_issue` in a process of its own, stopped with SIGSTOP
while its request is out (its heartbeat stops with it, as in a GC pause or a suspended VM),
and continued once another sender has reaped its batch and finished the issue. Its
provider is a stand-in backend that waits for the test to answer, then refuses with 503.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import ClassVar

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery import Backend, Message, Recipient
from newsletter.publishing import lifecycle
from newsletter.publishing.lifecycle import SENDING, IssueStatus
from newsletter.publishing.models import Issue
from newsletter.sending import send_issue
from newsletter.sending.ledger import (
    LATE_REFUSAL,
    BatchState,
    RecipientState,
    claim_batch,
    new_owner,
    reap_orphans,
    record_outcome,
    retire_owner,
    snapshot_audience,
)
from newsletter.sending.settle import finish
from tests.newsletter.sending.test_sender import add_subscribers, issue_row, recipient_states

LEASE = 0.6

_STALLED_SENDER = """
import sys
from newsletter.core.database import make_engine
from newsletter.core.settings import Settings
from newsletter.delivery import Backend, TransientFailure
from newsletter.sending import send_issue


class StallsThenRefuses(Backend):
    name = "stalls-then-refuses"
    calls = 0

    def send_batch(self, message, recipients):
        StallsThenRefuses.calls += 1
        if StallsThenRefuses.calls > 1:  # the batch sent again, if it was reopened
            print("accepted", *[r.subscriber_id for r in recipients], flush=True)
            return "second-try"
        print("in flight", flush=True)
        sys.stdin.readline()  # the test stops this process meanwhile, then answers
        raise TransientFailure("HTTP 503: Service Unavailable", status=503)


settings = Settings()
report = send_issue(make_engine(settings.database_url), int(sys.argv[1]), settings,
                    StallsThenRefuses())
print("done", report.status, flush=True)
"""


class Recording(Backend):
    """Accepts every batch (a provider whose outcome cannot be repeated safely); the first
    call may wait on `hold`."""

    name: ClassVar[str] = "recording"

    def __init__(self, hold: threading.Event | None = None) -> None:
        self.hold = hold
        self.delivered: list[int] = []
        self.calls = 0
        self.waiting = threading.Event()

    def send_batch(self, message: Message, recipients: Sequence[Recipient]) -> str:
        self.calls += 1
        if self.hold is not None and self.calls == 1:
            self.waiting.set()
            assert self.hold.wait(30)
        self.delivered.extend(r.subscriber_id for r in recipients)
        return f"accepted-{self.calls}"


def _start_sending(engine: Engine, issue: Issue, batch_size: int = 10) -> int:
    """The issue `sending` with its audience in batches, as a started send leaves it."""
    issue_id = issue.id or 0
    with session_scope(engine, immediate=True) as session:
        session.connection().execute(
            text("UPDATE issue SET status = 'sending' WHERE id = :i"), {"i": issue_id}
        )
        snapshot_audience(session, issue_id, batch_size)
    return issue_id


def _environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env.update(
        NEWSLETTER_ENV_FILE=os.devnull,
        NEWSLETTER_DATABASE_URL=settings.database_url,
        NEWSLETTER_SECRET_KEY=settings.secret_key,
        NEWSLETTER_SITE_URL=settings.site_url,
        NEWSLETTER_POSTAL_ADDRESS=settings.postal_address,
        NEWSLETTER_OUTBOX_DIR=str(settings.outbox_dir),
        NEWSLETTER_BATCH_SIZE="10",
        NEWSLETTER_SEND_CONCURRENCY="1",
        NEWSLETTER_SEND_LEASE=str(LEASE),
        NEWSLETTER_SEND_RETRY_BASE="0.01",
        NEWSLETTER_SEND_RETRY_MAX="0.05",
    )
    return env


def _holds_no_lock(engine: Engine, issue_id: int) -> bool:
    """No transaction of the stopped process is open (it was stopped between two)."""
    if engine.dialect.name == "sqlite":
        database = make_url(str(engine.url)).database or ""
        plain = sqlite3.connect(database, timeout=0, isolation_level=None)
        try:
            plain.execute("BEGIN IMMEDIATE")
            plain.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            plain.close()
    try:
        with engine.connect() as connection:
            connection.execute(
                text("SELECT 1 FROM send_batch WHERE issue_id = :i FOR UPDATE NOWAIT"),
                {"i": issue_id},
            )
            connection.rollback()
        return True
    except OperationalError:
        return False


class Stalled:
    """The stalled sender: a process sending the issue, stopped with its request out."""

    def __init__(self, engine: Engine, settings: Settings, issue: Issue) -> None:
        self.engine = engine
        self.issue_id = issue.id or 0
        self.process = subprocess.Popen(
            [sys.executable, "-c", _STALLED_SENDER, str(issue.number)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_environment(settings),
        )

    def stop_in_flight(self) -> None:
        """Wait for its request to be out, stop it outside any transaction, and wait for its
        lease to run out."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        assert line == "in flight", line + self.process.communicate(timeout=30)[1]
        for _ in range(200):
            os.kill(self.process.pid, signal.SIGSTOP)
            if _holds_no_lock(self.engine, self.issue_id):
                break
            os.kill(self.process.pid, signal.SIGCONT)  # caught mid-heartbeat: again
            time.sleep(0.01)
        else:
            pytest.fail("could not stop the sender between two transactions")
        while True:
            with session_scope(self.engine) as session:
                lease = session.connection().execute(
                    text("SELECT lease_until FROM send_batch WHERE issue_id = :i AND seq = 1"),
                    {"i": self.issue_id},
                )
                if lease.scalar_one() < time.time():
                    return
            time.sleep(0.05)

    def answer(self) -> tuple[str, str]:
        """Continue it; its provider answers 503. What it printed, once it has ended."""
        assert self.process.stdin is not None
        os.kill(self.process.pid, signal.SIGCONT)
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        out, err = self.process.communicate(timeout=60)
        assert self.process.returncode == 0, out + err
        return out, err

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.kill()
            self.process.communicate()


def _batches(engine: Engine, issue_id: int) -> dict[int, tuple[str, str | None]]:
    with session_scope(engine) as session:
        rows = session.connection().execute(
            text("SELECT seq, state, error FROM send_batch WHERE issue_id = :i"), {"i": issue_id}
        )
        return {seq: (state, error) for seq, state, error in rows}


def _members(engine: Engine, issue_id: int, seq: int) -> set[int]:
    with session_scope(engine) as session:
        rows = session.connection().execute(
            text("SELECT subscriber_id FROM send_recipient WHERE issue_id = :i AND batch_seq = :s"),
            {"i": issue_id, "s": seq},
        )
        return {sid for (sid,) in rows}


def test_a_refusal_after_the_send_finished_fails_the_batch_it_never_reopens_it(
    engine: Engine, send_settings: Settings, issue: Issue
) -> None:
    add_subscribers(engine, 20)
    send_settings.send_lease = LEASE
    send_settings.send_concurrency = 1
    issue_id = _start_sending(engine, issue)
    stalled = Stalled(engine, send_settings, issue)
    try:
        stalled.stop_in_flight()
        other = Recording()
        finished = send_issue(engine, issue.number, send_settings, other)
        assert (finished.status, finished.accepted, finished.unknown) == ("sent", 10, 10)

        out, _ = stalled.answer()
    finally:
        stalled.kill()

    assert "accepted" not in out  # nothing sent it again
    batches = _batches(engine, issue_id)
    assert batches[2] == (BatchState.ACCEPTED, None)
    state, error = batches[1]
    assert state == BatchState.FAILED  # not retryable: nothing would ever send it
    assert error is not None
    assert error.startswith(LATE_REFUSAL)
    assert "HTTP 503" in error
    states = recipient_states(engine, issue)
    assert {states[sid] for sid in _members(engine, issue_id, 1)} == {RecipientState.FAILED}
    assert sorted(other.delivered) == sorted(_members(engine, issue_id, 2))
    assert RecipientState.QUEUED not in states.values()
    row = issue_row(engine, issue)
    assert row.status == IssueStatus.SENT
    assert row.status_reason is not None
    assert "1 batch(es), 10 recipient(s) failed (refused after" in row.status_reason
    assert "unknown" not in row.status_reason  # stated again from the ledger


def test_a_refusal_while_the_send_goes_on_reopens_the_batch_and_it_is_sent_once(
    engine: Engine, send_settings: Settings, issue: Issue
) -> None:
    add_subscribers(engine, 20)
    send_settings.send_lease = LEASE
    send_settings.send_concurrency = 1
    issue_id = _start_sending(engine, issue)
    stalled = Stalled(engine, send_settings, issue)
    hold = threading.Event()
    other = Recording(hold)
    reports = []
    sender = threading.Thread(
        target=lambda: reports.append(send_issue(engine, issue.number, send_settings, other))
    )
    try:
        stalled.stop_in_flight()
        sender.start()
        assert other.waiting.wait(30)  # it reaped batch 1 and holds batch 2 in flight
        assert _batches(engine, issue_id)[1][0] == BatchState.UNKNOWN

        assert stalled.process.stdin is not None
        os.kill(stalled.process.pid, signal.SIGCONT)
        stalled.process.stdin.write("\n")
        stalled.process.stdin.flush()
        deadline = time.monotonic() + 30
        while _batches(engine, issue_id)[1][0] == BatchState.UNKNOWN:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        hold.set()
        out, _ = stalled.answer()
        sender.join(60)
    finally:
        hold.set()
        stalled.kill()

    [report] = reports
    again = [
        int(word)
        for line in out.splitlines()
        if line.startswith("accepted")
        for word in line.split()[1:]
    ]
    delivered = again + other.delivered
    assert sorted(delivered) == sorted(
        _members(engine, issue_id, 1) | _members(engine, issue_id, 2)
    )
    assert len(delivered) == len(set(delivered))  # each once
    assert {state for state, _ in _batches(engine, issue_id).values()} == {BatchState.ACCEPTED}
    assert set(recipient_states(engine, issue).values()) == {RecipientState.ACCEPTED}
    assert issue_row(engine, issue).status == IssueStatus.SENT
    assert report.status == IssueStatus.SENT


def _late_batch(engine: Engine, issue: Issue) -> tuple[int, str]:
    """Batch 1 claimed by a sender whose lease ran out and reaped `unknown`; batch 2 sent
    by another. Returns the issue's id and the stalled sender's owner token."""
    issue_id = _start_sending(engine, issue)
    stalled, other = new_owner(), new_owner()
    now = time.time()
    with session_scope(engine, immediate=True) as session:
        assert claim_batch(session, issue_id, stalled, now=now, lease=LEASE, max_tries=5)
    with session_scope(engine, immediate=True) as session:
        assert reap_orphans(session, issue_id, now=now + 2 * LEASE, is_gone=lambda _: False)
    with session_scope(engine, immediate=True) as session:
        claimed = claim_batch(session, issue_id, other, now=now, lease=LEASE, max_tries=5)
        assert claimed is not None
        assert claimed.seq == 2
    with session_scope(engine, immediate=True) as session:
        assert record_outcome(session, issue_id, 2, other, BatchState.ACCEPTED, sent=10)
    retire_owner(stalled)
    retire_owner(other)
    return issue_id, stalled


def test_a_late_answer_waits_for_a_finish_in_progress_then_fails_the_batch(
    engine: Engine, send_settings: Settings, issue: Issue
) -> None:
    """The finish and the late answer serialise on the issue's row: the answer cannot
    reopen the batch between the finish's look at what is left and its commit."""
    add_subscribers(engine, 20)
    issue_id, stalled = _late_batch(engine, issue)
    recorded: list[BatchState | None] = []

    def late_answer() -> None:
        with session_scope(engine, immediate=True) as session:
            recorded.append(
                record_outcome(
                    session,
                    issue_id,
                    1,
                    stalled,
                    BatchState.RETRYABLE,
                    error="HTTP 503: Service Unavailable",
                    not_before=time.time(),
                    sent=10,
                )
            )

    answer = threading.Thread(target=late_answer)
    with session_scope(engine, immediate=True) as settling:
        assert lifecycle.lock_while(settling, issue_id, SENDING)
        finish(settling, issue)
        answer.start()
        answer.join(0.5)
        assert answer.is_alive(), "the late answer did not wait for the finish"
    answer.join(30)

    assert recorded == [BatchState.FAILED]
    assert _batches(engine, issue_id)[1][0] == BatchState.FAILED
    assert issue_row(engine, issue).status == IssueStatus.SENT
    assert RecipientState.QUEUED not in recipient_states(engine, issue).values()


def test_a_late_acceptance_settles_the_unknown_batch_and_restates_the_issue(
    engine: Engine, send_settings: Settings, issue: Issue
) -> None:
    add_subscribers(engine, 20)
    issue_id, stalled = _late_batch(engine, issue)
    with session_scope(engine, immediate=True) as session:
        finish(session, issue)
    before = issue_row(engine, issue).status_reason
    assert before is not None
    assert "1 batch(es), 10 recipient(s) unknown" in before

    with session_scope(engine, immediate=True) as session:
        state = record_outcome(
            session, issue_id, 1, stalled, BatchState.ACCEPTED, message_id="late", sent=10
        )

    row = issue_row(engine, issue)
    assert (row.status, row.status_reason) == (IssueStatus.SENT, None)  # nothing unknown now
    assert state == BatchState.ACCEPTED
    assert set(recipient_states(engine, issue).values()) == {RecipientState.ACCEPTED}
