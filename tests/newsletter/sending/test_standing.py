"""The standing worker in a thread of the test (its processes are in tests/newsletter/cli/
test_worker.py): it sends a detached send once, leaves a send `sending` when stopped, and
joins nothing but a send in progress."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery import Backend
from newsletter.devtools.standin import StandIn
from newsletter.publishing import lifecycle
from newsletter.publishing.lifecycle import SENDING, IssueStatus, PauseCause
from newsletter.publishing.models import Issue
from newsletter.sending import BackendFactory, StandingWorker, send_issue, work
from tests.newsletter.sending.test_sender import (
    add_subscribers,
    assert_each_once,
    issue_row,
    recipient_states,
    sendgrid,
)

WAIT = 30.0  # seconds before a test gives up on something that should happen


def backends_of(standin: StandIn) -> BackendFactory:
    def make() -> Backend:
        return sendgrid(standin)

    return make


def detach(engine: Engine, settings: Settings, standin: StandIn, issue: Issue) -> None:
    report = send_issue(engine, issue.number, settings, sendgrid(standin), detach=True)
    assert (report.outcome, report.status) == ("started", IssueStatus.SENDING)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def batch_states(engine: Engine, issue: Issue) -> list[str]:
    with session_scope(engine) as session:
        found = session.connection().execute(
            text("SELECT state FROM send_batch WHERE issue_id = :i ORDER BY seq"),
            {"i": issue.id},
        )
        return [state for (state,) in found]


def test_detach_takes_the_snapshot_and_sends_nothing(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    add_subscribers(engine, 35)

    detach(engine, send_settings, standin, issue)

    assert issue_row(engine, issue).status == IssueStatus.SENDING
    assert batch_states(engine, issue) == ["pending"] * 4  # 35 in batches of 10
    assert set(recipient_states(engine, issue).values()) == {"queued"}
    assert standin.recipients() == []


def test_a_worker_sends_a_detached_issue_to_everyone_once(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    people = add_subscribers(engine, 95)
    send_settings.worker_poll = 0.05
    detach(engine, send_settings, standin, issue)
    stop = threading.Event()
    thread = threading.Thread(target=work, args=(engine, send_settings, backends_of(standin), stop))
    thread.start()
    try:
        wait_for(lambda: issue_row(engine, issue).status == IssueStatus.SENT, "the send")
    finally:
        stop.set()
        thread.join(WAIT)

    assert not thread.is_alive()
    assert_each_once(standin, people.active_emails)
    assert set(batch_states(engine, issue)) == {"accepted"}


def test_a_stopped_worker_leaves_the_send_sending_for_the_next(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    people = add_subscribers(engine, 120)
    send_settings.send_concurrency = 2
    standin.set_default_fault("slow", seconds=0.05)
    detach(engine, send_settings, standin, issue)
    stop = threading.Event()
    worker = StandingWorker(engine, send_settings, backends_of(standin), stop)
    joined = threading.Thread(target=worker.one_pass)
    joined.start()
    wait_for(lambda: standin.stats().accepted_requests >= 2, "the first answers")
    stop.set()
    joined.join(WAIT)

    assert not joined.is_alive()
    row = issue_row(engine, issue)
    assert (row.status, row.pause_cause) == (IssueStatus.SENDING, None)  # not paused
    states = batch_states(engine, issue)
    assert "in_flight" not in states  # every answer that came was recorded
    assert "pending" in states
    assert len(standin.recipients()) == states.count("accepted") * 10

    standin.set_default_fault(None)
    after = StandingWorker(engine, send_settings, backends_of(standin), threading.Event())
    (report,) = after.one_pass()

    assert (report.outcome, report.status, report.accepted) == ("joined", "sent", 120)
    assert_each_once(standin, people.active_emails)


def test_a_paused_issue_is_not_joined(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    add_subscribers(engine, 20)
    detach(engine, send_settings, standin, issue)
    assert issue.id is not None
    with session_scope(engine) as session:
        assert lifecycle.move(
            session,
            issue.id,
            SENDING,
            IssueStatus.PAUSED,
            reason="stopped by hand",
            cause=PauseCause.STOP_REQUESTED,
        )
    worker = StandingWorker(engine, send_settings, backends_of(standin), threading.Event())

    assert worker.one_pass() == []
    assert worker.join(issue.number) is None  # even when asked directly (a race)
    assert issue_row(engine, issue).status == IssueStatus.PAUSED
    assert standin.recipients() == []


def test_a_worker_stopped_after_the_last_batch_finishes_the_send(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    """SIGTERM lands just after the send's last answer: nothing is left for anyone, so the
    leaving worker settles it (`sent`) instead of leaving it `sending` for a worker that
    may never come."""
    people = add_subscribers(engine, 10)  # one batch
    send_settings.send_concurrency = 1
    detach(engine, send_settings, standin, issue)
    stop = threading.Event()

    def stopping_after_each_request() -> Backend:
        backend = sendgrid(standin)
        send = backend.send_batch

        def send_then_stop(*args: Any, **kwargs: Any) -> str:
            answer = send(*args, **kwargs)
            stop.set()
            return answer

        backend.send_batch = send_then_stop  # type: ignore[method-assign]
        return backend

    worker = StandingWorker(engine, send_settings, stopping_after_each_request, stop)
    (report,) = worker.one_pass()

    assert stop.is_set()
    assert (report.status, issue_row(engine, issue).status) == ("sent", IssueStatus.SENT)
    assert_each_once(standin, people.active_emails)
