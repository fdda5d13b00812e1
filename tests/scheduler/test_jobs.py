"""The jobs: the weekly build (and send), the dispatch tick that sends approved issues and
resumes stopped sends by their pause cause, and the backends they close."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import Engine
from sqlmodel import select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings, get_settings
from newsletter.delivery import Backend
from newsletter.delivery.registry import make_backend
from newsletter.publishing.content import load_content
from newsletter.publishing.issues import approve_issue, build_issue, move_issue
from newsletter.publishing.lifecycle import IssueStatus, PauseCause
from newsletter.publishing.models import Issue
from scheduler import jobs
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


def test_dispatch_resumes_stopped_sends_and_orphaned_drafts(
    weekly: Settings, engine: Engine
) -> None:
    """A restart pauses a send; a crash can leave an auto-send draft: the tick finishes both,
    but a send paused by a refused key waits for a person."""
    with time_machine.travel(datetime(2026, 11, 23, 8, tzinfo=BERLIN), tick=False):
        with session_scope(engine) as session:
            from newsletter.publishing.content import load_content

            load_content(session, weekly.content_dir)
            build_issue(session, "2026-W48", weekly)  # built, then the process died
        jobs.dispatch_job()
        [issue] = issues_in(engine)
        assert issue.status == IssueStatus.SENT
    pause(engine, PauseCause.REFUSED, "stopped: HTTP 401: bad key")
    jobs.dispatch_job()
    assert issues_in(engine)[0].status == IssueStatus.PAUSED
    pause(engine, PauseCause.STOP_REQUESTED, "stopped: the sender was asked to stop")
    jobs.dispatch_job()
    assert issues_in(engine)[0].status == IssueStatus.SENT


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
        with session_scope(engine) as session:
            from newsletter.publishing.content import load_content

            load_content(session, weekly.content_dir)
            build_issue(session, "2026-W48", weekly)
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
        with session_scope(engine) as session:
            from newsletter.publishing.content import load_content

            load_content(session, weekly.content_dir)
            build_issue(session, "2026-W48", weekly)
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


def test_the_weekly_job_builds_a_week_whose_issue_was_cancelled(
    weekly: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_AUTO_SEND", "false")
    get_settings.cache_clear()
    with time_machine.travel(datetime(2026, 11, 23, 8, tzinfo=BERLIN), tick=False):
        jobs.weekly_job()
        with session_scope(engine) as session:
            move_issue(session, 1, "cancel")
        jobs.weekly_job(manual=True)
    issues = sorted(issues_in(engine), key=lambda i: i.number)
    assert [(i.number, i.week, i.status) for i in issues] == [
        (1, "2026-W48", IssueStatus.CANCELLED),
        (2, "2026-W48", IssueStatus.DRAFT),
    ]


"""The jobs: the weekly build (and send), the dispatch tick that sends approved issues and
resumes stopped sends by their pause cause, the gate they pass, and the backends they
close."""


def test_the_scheduler_sends_nothing_the_gate_refuses(
    weekly: Settings,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Auto-send runs the editor's checks: a draft in error is logged (once, not every
    tick) and left alone, and so is an approved issue whose snapshot changed; the tick
    still sends the issues that pass."""
    caplog.set_level(logging.INFO, logger="scheduler")
    monkeypatch.setenv("NEWSLETTER_POSTAL_ADDRESS", "")  # the footer check errs
    get_settings.cache_clear()
    with time_machine.travel(datetime(2026, 11, 23, 8, tzinfo=BERLIN), tick=False):
        jobs.weekly_job()
        jobs.dispatch_job()
        jobs.dispatch_job()
    [issue] = issues_in(engine)
    assert issue.status == IssueStatus.DRAFT
    refusal = (
        f"issue #{issue.number} cannot go out: the checks found 1 error(s): footer: no "
        "postal address is set (NEWSLETTER_POSTAL_ADDRESS)"
    )
    assert caplog.text.count(refusal) == 1
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
