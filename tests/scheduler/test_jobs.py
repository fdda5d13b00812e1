"""The jobs: the weekly build (and send), the dispatch tick that sends approved issues and
resumes stopped sends by their pause cause, and the backends they close."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import Engine
from sqlmodel import select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings, get_settings
from newsletter.delivery import Backend
from newsletter.delivery.registry import make_backend
from newsletter.publishing.content import load_content
from newsletter.publishing.gate import snapshot_hash
from newsletter.publishing.issues import approve_issue, build_issue, move_issue
from newsletter.publishing.lifecycle import IssueStatus, PauseCause
from newsletter.publishing.models import Issue
from newsletter.sending import SendReport, send_issue
from scheduler import jobs
from scheduler.runner import run
from tests.factories import comparison, write_comparison, write_content
from tests.newsletter.publishing.helpers import stored, tamper
from tests.scheduler.helpers import BERLIN, issues_in


def test_a_week_with_nothing_to_pick_sends_nothing(
    weekly: Settings, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="scheduler")
    with time_machine.travel(datetime(2027, 3, 1, 8, tzinfo=BERLIN), tick=False):
        jobs.weekly_job()
    assert issues_in(engine) == []
    assert "no issue for 2027-W09" in caplog.text
    assert "nothing is sent this week" in caplog.text


def test_without_auto_send_the_issue_waits_for_approval(
    weekly: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_AUTO_SEND", "false")
    get_settings.cache_clear()
    with time_machine.travel(datetime(2026, 11, 23, 8, tzinfo=BERLIN), tick=False):
        jobs.weekly_job()
        jobs.dispatch_job()  # a tick: nothing approved yet
    [issue] = issues_in(engine)
    assert issue.status == IssueStatus.DRAFT
    with session_scope(engine) as session:
        approve_issue(session, issue.number, weekly)
    jobs.dispatch_job()  # the next tick sends it
    [issue] = issues_in(engine)
    assert issue.status == IssueStatus.SENT


def test_a_run_caught_up_after_midnight_builds_the_week_it_was_due_in(weekly: Settings) -> None:
    """Sunday 22:00 is due in week 47; caught up at 01:00 on Monday it still builds W47."""
    weekly.schedule = "0 22 * * sun"
    with time_machine.travel(datetime(2026, 11, 23, 1, tzinfo=BERLIN), tick=False):
        assert jobs.due_week(jobs.local_now()) == "2026-W47"
    with time_machine.travel(datetime(2026, 11, 22, 21, tzinfo=BERLIN), tick=False):
        assert jobs.due_week(jobs.local_now()) == "2026-W47"  # before the first fire: now


def test_dispatch_sends_what_was_approved_and_resumes_stopped_sends(
    weekly: Settings, engine: Engine
) -> None:
    """The weekly job built and approved the issue, then its process died; a restart
    paused a send: the tick finishes both, but a send paused by a refused key waits for a
    person."""
    with time_machine.travel(datetime(2026, 11, 23, 8, tzinfo=BERLIN), tick=False):
        build_approved(engine, weekly)  # built and approved, then the process died
        jobs.dispatch_job()
        [issue] = issues_in(engine)
        assert issue.status == IssueStatus.SENT
    pause(engine, PauseCause.REFUSED, "stopped: HTTP 401: bad key")
    jobs.dispatch_job()
    assert issues_in(engine)[0].status == IssueStatus.PAUSED
    pause(engine, PauseCause.STOP_REQUESTED, "stopped: the sender was asked to stop")
    jobs.dispatch_job()
    assert issues_in(engine)[0].status == IssueStatus.SENT


def build_approved(engine: Engine, settings: Settings, week: str = "2026-W48") -> int:
    """The week's issue, built and approved (what the weekly job commits with auto-send)."""
    with session_scope(engine) as session:
        load_content(session, settings.content_dir)
        number = build_issue(session, week, settings).issue.number
        approve_issue(session, number, settings, "approved")
    return number


def pause(engine: Engine, cause: PauseCause, reason: str) -> None:
    with session_scope(engine) as session:
        row = session.exec(select(Issue)).one()
        row.status, row.pause_cause, row.status_reason = IssueStatus.PAUSED, cause, reason


@pytest.mark.parametrize(
    ("cause", "resumes"),
    [
        (PauseCause.STOP_REQUESTED, True),
        (PauseCause.INTERRUPTED, True),
        (PauseCause.RETRIES_EXHAUSTED, True),
        (PauseCause.REFUSED, False),
        (PauseCause.BACKEND_ERROR, False),
    ],
)
def test_dispatch_decides_by_the_pause_cause_never_by_the_words(
    weekly: Settings, engine: Engine, cause: PauseCause, resumes: bool
) -> None:
    """The reason is for people: reworded, or even carrying another cause's old words, it
    changes nothing; the stored cause alone decides whether the tick resumes the send."""
    with time_machine.travel(datetime(2026, 11, 23, 8, tzinfo=BERLIN), tick=False):
        build_approved(engine, weekly)
        jobs.dispatch_job()
        misleading = "stopped: interrupted; send again to resume" if not resumes else "oops"
        pause(engine, cause, misleading)
        jobs.dispatch_job()
        expected = IssueStatus.SENT if resumes else IssueStatus.PAUSED
        assert issues_in(engine)[0].status == expected


def test_every_backend_the_scheduler_makes_is_closed(
    weekly: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job's backend lives as long as its send: closed when the send ends, so what it
    started (SendGrid's build processes) does not outlive the job."""
    made: list[Backend] = []
    closed: list[Backend] = []

    def tracked(settings: Settings) -> Backend:
        backend = make_backend(settings)
        release = backend.close

        def close() -> None:
            closed.append(backend)
            release()

        monkeypatch.setattr(backend, "close", close)
        made.append(backend)
        return backend

    monkeypatch.setattr(jobs, "make_backend", tracked)
    with time_machine.travel(datetime(2026, 11, 23, 8, tzinfo=BERLIN), tick=False):
        build_approved(engine, weekly)
        jobs.dispatch_job()
    assert issues_in(engine)[0].status == IssueStatus.SENT
    assert len(made) == 1
    assert closed == made


def test_the_weekly_job_withdraws_deleted_files_before_it_builds(
    weekly: Settings,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The job loads through the same door as `content load`: a deleted file leaves the
    week's draft (re-rendered), and the week's issue is built from what is left."""
    monkeypatch.setenv("NEWSLETTER_AUTO_SEND", "false")
    get_settings.cache_clear()
    write_comparison(weekly.content_dir, comparison("two", "2026-11-24"))
    with time_machine.travel(datetime(2026, 11, 23, 8, tzinfo=BERLIN), tick=False):
        jobs.weekly_job()
    [issue] = issues_in(engine)
    assert "Two A vs Two B" in issue.html
    (weekly.content_dir / "comparisons" / "two.yaml").unlink()
    caplog.set_level(logging.INFO)
    with time_machine.travel(datetime(2026, 11, 23, 9, tzinfo=BERLIN), tick=False):
        jobs.weekly_job(manual=True)
    assert "content: issue #1 (2026-W48): took out withdrawn two; re-rendered" in caplog.text
    [issue] = issues_in(engine)
    assert issue.status == IssueStatus.DRAFT
    assert "Two A vs Two B" not in issue.html
    assert "One A vs One B" in issue.html


def test_the_weekly_job_never_rebuilds_a_week_whose_issue_was_cancelled(
    weekly: Settings, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """Cancelling says the week sends nothing: the scheduler (its weekly run, `--once`,
    auto-send or not) leaves the week alone; `issue build --week W` alone builds it again."""
    caplog.set_level(logging.INFO, logger="scheduler")
    jobs.stopping.set()  # built and approved, not sent yet
    with time_machine.travel(datetime(2026, 11, 23, 8, tzinfo=BERLIN), tick=False):
        jobs.weekly_job()
        with session_scope(engine) as session:
            move_issue(session, 1, "cancel")
        jobs.stopping.clear()
        jobs.weekly_job()
        jobs.weekly_job(manual=True)
        jobs.dispatch_job()
    [issue] = issues_in(engine)
    assert (issue.number, issue.week, issue.status) == (1, "2026-W48", IssueStatus.CANCELLED)
    line = (
        "week 2026-W48 was cancelled (issue #1); only `newsletter issue build --week 2026-W48` "
        "rebuilds it"
    )
    assert caplog.text.count(line) == 2
    assert not list(weekly.outbox_dir.rglob("*.eml"))
    with session_scope(engine) as session:  # what `issue build --week 2026-W48` does
        rebuilt = build_issue(session, "2026-W48", weekly)
    assert (rebuilt.created, rebuilt.issue.number) == (True, 2)


def test_auto_send_approves_the_issue_it_builds_in_the_same_transaction(
    weekly: Settings, engine: Engine
) -> None:
    """The weekly job's approval is an approval like an editor's (the checks, the hash,
    a reason saying who): stopped right after the build, the issue is approved already,
    and the next tick sends it."""
    jobs.stopping.set()  # the job stops before it sends
    with time_machine.travel(datetime(2026, 11, 23, 8, tzinfo=BERLIN), tick=False):
        jobs.weekly_job()
    [issue] = issues_in(engine)
    assert (issue.status, issue.status_reason) == (IssueStatus.APPROVED, jobs.AUTO_APPROVED)
    assert issue.approved_hash == snapshot_hash(issue)
    jobs.stopping.clear()
    jobs.dispatch_job()
    assert issues_in(engine)[0].status == IssueStatus.SENT
    assert len(list((weekly.outbox_dir / "issue-1").glob("*.eml"))) == 3


def test_auto_send_never_sends_a_draft(weekly: Settings, engine: Engine) -> None:
    """With auto-send on, a draft of this very week is an editor's work in progress: one
    built by hand and being edited, or one unapproved to be changed. No tick sends it."""
    with time_machine.travel(datetime(2026, 11, 23, 8, tzinfo=BERLIN), tick=False):
        with session_scope(engine) as session:  # `issue build`, by hand: a draft
            load_content(session, weekly.content_dir)
            build_issue(session, "2026-W48", weekly)
        jobs.dispatch_job()
        assert issues_in(engine)[0].status == IssueStatus.DRAFT
        with session_scope(engine) as session:  # approved, then taken back to change it
            approve_issue(session, 1, weekly, jobs.AUTO_APPROVED)
            move_issue(session, 1, "unapprove")
        jobs.dispatch_job()
        jobs.weekly_job()  # the week is taken: the job leaves the draft alone too
    [issue] = issues_in(engine)
    assert issue.status == IssueStatus.DRAFT
    assert not list(weekly.outbox_dir.rglob("*.eml"))


def test_a_refused_issue_stops_neither_the_tick_nor_the_scheduler(
    weekly: Settings,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An editor holds issue #1 between the tick's read and its send: the send is refused,
    logged once, and issue #2 still goes out; the scheduler, whose first act is that tick,
    starts (and stops on SIGTERM) as usual."""
    caplog.set_level(logging.INFO, logger="scheduler")
    root = write_content(
        tmp_path / "more", [comparison("one", "2026-11-23"), comparison("two", "2026-11-30")]
    )
    monkeypatch.setenv("NEWSLETTER_CONTENT_DIR", str(root))
    get_settings.cache_clear()
    weekly = get_settings()
    for week in ("2026-W48", "2026-W49"):
        build_approved(engine, weekly, week)
    send = send_issue

    def held_meanwhile(bind: Engine, number: int, *args: Any, **kwargs: Any) -> SendReport:
        if number == 1:
            with session_scope(engine) as session:
                move_issue(session, 1, "hold", "held by an editor")
        return send(bind, number, *args, **kwargs)

    monkeypatch.setattr("scheduler.jobs.send_issue", held_meanwhile)
    started, ended = threading.Event(), threading.Event()

    class Started(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("scheduler started"):
                started.set()

    def stop_once_started() -> None:  # SIGTERM, as an operator would, once it is up
        deadline = time.monotonic() + 60
        while not started.wait(timeout=0.05):
            if ended.is_set() or time.monotonic() > deadline:
                return
        os.kill(os.getpid(), signal.SIGTERM)

    handler = Started()
    logging.getLogger("scheduler").addHandler(handler)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    stopper = threading.Thread(target=stop_once_started, daemon=True)
    stopper.start()
    try:
        run(weekly, engine)  # ticks once as it starts, then runs until SIGTERM
    finally:
        logging.getLogger("scheduler").removeHandler(handler)
        for sig, old in previous.items():
            signal.signal(sig, old)
        ended.set()
        stopper.join(timeout=10)
        jobs.stopping.clear()

    first, second = sorted(issues_in(engine), key=lambda row: row.number)
    assert (first.status, second.status) == (IssueStatus.HELD, IssueStatus.SENT)
    assert caplog.text.count("issue #1 is held; only draft or approved issues are sent") == 1
    assert "scheduler started" in caplog.text
    assert "scheduler stopped" in caplog.text
    assert len(list((weekly.outbox_dir / "issue-2").glob("*.eml"))) == 3
    jobs.dispatch_job()  # held: not in the tick's list any more, nothing said again
    assert caplog.text.count("issue #1 is held") == 1


"""The jobs: the weekly build (and send), the dispatch tick that sends approved issues and
resumes stopped sends by their pause cause, the gate they pass, and the backends they
close."""


def test_the_scheduler_sends_nothing_the_gate_refuses(
    weekly: Settings,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Auto-send approves through the editor's checks: an issue in error is not approved,
    the refusal is logged once (by the weekly job; the tick never sends a draft), and the
    draft waits for an editor."""
    caplog.set_level(logging.INFO, logger="scheduler")
    monkeypatch.setenv("NEWSLETTER_POSTAL_ADDRESS", "")  # the footer check errs
    get_settings.cache_clear()
    with time_machine.travel(datetime(2026, 11, 23, 8, tzinfo=BERLIN), tick=False):
        jobs.weekly_job()
        jobs.dispatch_job()
        jobs.dispatch_job()
    [issue] = issues_in(engine)
    assert (issue.status, issue.approved_hash) == (IssueStatus.DRAFT, None)
    refusal = (
        f"issue #{issue.number} cannot go out: the checks found 1 error(s): footer: no "
        "postal address is set (NEWSLETTER_POSTAL_ADDRESS)"
    )
    assert caplog.text.count(refusal) == 1
    assert f"issue #{issue.number} awaits `newsletter issue approve" in caplog.text
    assert not list(weekly.outbox_dir.rglob("*.eml"))


def test_the_scheduler_never_sends_a_snapshot_nobody_approved(
    weekly: Settings, engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="scheduler")
    root = write_content(
        tmp_path / "more", [comparison("one", "2026-11-23"), comparison("two", "2026-11-30")]
    )
    with session_scope(engine) as session:
        load_content(session, root)
        for week in ("2026-W48", "2026-W49"):
            approve_issue(session, build_issue(session, week, weekly).issue.number, weekly)
    tamper(engine, 1, text=stored(engine, 1).text.replace("The verdict", "A sponsored verdict"))

    jobs.dispatch_job()

    first, second = sorted(issues_in(engine), key=lambda row: row.number)
    assert (first.status, second.status) == (IssueStatus.APPROVED, IssueStatus.SENT)
    assert "issue #1 is not sent: its snapshot is no longer the one that was approved" in (
        caplog.text
    )
    assert not (weekly.outbox_dir / "issue-1").exists()
    assert len(list((weekly.outbox_dir / "issue-2").glob("*.eml"))) == 3
