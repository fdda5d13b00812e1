"""The scheduler: when it fires, what it does with a missed run, and exactly-once across
two real scheduler processes on one database."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobEvent
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine
from sqlmodel import select
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings, SettingsError, get_settings
from newsletter.delivery import Backend
from newsletter.delivery.registry import make_backend
from newsletter.devtools.standin import StandIn
from newsletter.publishing.issues import IssueError, build_issue, move_issue
from newsletter.publishing.lifecycle import IssueStatus, PauseCause
from newsletter.publishing.models import Issue, IssueComparison
from newsletter.publishing.schedule import ScheduleError, next_fire, weekly_trigger
from newsletter.publishing.weeks import week_of
from newsletter.sending import issue_status
from scheduler import jobs
from scheduler.runner import WEEKLY_ID, configure, run
from tests.factories import comparison, write_content
from tests.newsletter.sending.test_sender import KEY, add_subscribers

BERLIN = ZoneInfo("Europe/Berlin")


def _fires(settings: Settings, start: datetime, count: int) -> list[datetime]:
    trigger = weekly_trigger(settings)
    out: list[datetime] = []
    previous, now = None, start
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        out.append(fire)
        previous, now = fire, fire
    return out


@pytest.mark.parametrize(
    ("start", "utc_hours"),
    [
        (datetime(2026, 10, 13, 12, tzinfo=BERLIN), [6, 7, 7]),  # summer time ends Oct 25
        (datetime(2026, 3, 17, 12, tzinfo=BERLIN), [7, 6, 6]),  # summer time starts Mar 29
    ],
)
def test_weekly_fire_time_across_daylight_saving(
    settings: Settings, start: datetime, utc_hours: list[int]
) -> None:
    settings.schedule, settings.timezone = "0 8 * * mon", "Europe/Berlin"
    fires = _fires(settings, start, 3)
    assert [f.astimezone(BERLIN).hour for f in fires] == [8, 8, 8]  # always 08:00 local
    assert [f.astimezone(UTC).hour for f in fires] == utc_hours
    days = [f.date() for f in fires]
    assert [(b - a).days for a, b in pairwise(days)] == [7, 7]
    assert len({week_of(d) for d in days}) == 3  # one run per week: none skipped, none doubled


def test_a_doubled_local_hour_still_makes_one_issue(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """`30 2 * * sun` in Berlin fires twice on the night summer time ends (02:30 happens
    twice); the week still gets one issue, because one issue per week is a constraint."""
    settings.schedule, settings.timezone = "30 2 * * sun", "Europe/Berlin"
    fires = _fires(settings, datetime(2026, 10, 20, tzinfo=BERLIN), 2)
    assert {f.date() for f in fires} == {date(2026, 10, 25)}
    root = write_content(tmp_path / "content", [comparison("one", "2026-10-21")])
    from newsletter.publishing.content import load_content

    with session_scope(engine) as session:
        load_content(session, root)
    created = []
    for fire in fires:
        with session_scope(engine) as session:
            created.append(build_issue(session, week_of(fire.date()), settings).created)
    assert created == [True, False]


def test_bad_schedule_and_zone_are_one_line_errors(settings: Settings) -> None:
    settings.schedule = "0 8 * *"
    with pytest.raises(
        ScheduleError, match="NEWSLETTER_SCHEDULE: '0 8 \\* \\*' is not a five-field"
    ):
        weekly_trigger(settings)
    settings.schedule, settings.timezone = "0 8 * * mon", "Mars/Olympus"
    with pytest.raises(ScheduleError, match="NEWSLETTER_TIMEZONE: unknown time zone"):
        weekly_trigger(settings)


def test_a_misspelt_backend_stops_the_scheduler_before_it_starts(
    settings: Settings, engine: Engine
) -> None:
    settings.backend = "sendgird"
    with pytest.raises(SettingsError, match=r"^NEWSLETTER_BACKEND: no provider named 'sendgird'"):
        run(settings, engine, once=True)
    with session_scope(engine) as session:
        assert session.exec(select(Issue)).all() == []


def test_next_fire_is_in_local_time(settings: Settings) -> None:
    settings.timezone = "America/New_York"
    fire = next_fire(settings, datetime(2026, 11, 25, 12, tzinfo=UTC)).fires_at
    assert fire == datetime(2026, 11, 30, 8, tzinfo=ZoneInfo("America/New_York"))


# --- the weekly job, with the scheduler's clock controlled -------------------------------


@pytest.fixture
def weekly(
    env: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Content for 2026-W48, three active subscribers, outbox delivery, auto-send on."""
    root = write_content(tmp_path / "content", [comparison("one", "2026-11-23")])
    monkeypatch.setenv("NEWSLETTER_CONTENT_DIR", str(root))
    monkeypatch.setenv("NEWSLETTER_AUTO_SEND", "true")
    monkeypatch.setenv("NEWSLETTER_TIMEZONE", "Europe/Berlin")
    get_settings.cache_clear()
    add_subscribers(engine, 3)
    jobs.stopping.clear()
    return get_settings()


def _run_scheduler_until(settings: Settings, engine: Engine, event_mask: int) -> list[JobEvent]:
    """Start a real scheduler on the persistent job store; return the first weekly event."""
    seen: list[JobEvent] = []
    done = threading.Event()

    def listen(event: JobEvent) -> None:
        if event.job_id == WEEKLY_ID:
            seen.append(event)
            done.set()

    scheduler = BackgroundScheduler()
    configure(scheduler, settings, engine)
    scheduler.add_listener(listen, event_mask)
    scheduler.start()
    try:
        done.wait(timeout=30)
    finally:
        scheduler.shutdown(wait=True)
    return seen


def _persist_job(settings: Settings, engine: Engine) -> None:
    """The service ran on Sunday evening, stored the weekly job, and went down."""
    with time_machine.travel(datetime(2026, 11, 22, 20, tzinfo=BERLIN), tick=False):
        scheduler = BackgroundScheduler()
        configure(scheduler, settings, engine)
        scheduler.start(paused=True)
        job = scheduler.get_job(WEEKLY_ID)
        assert job is not None
        assert job.next_run_time == datetime(2026, 11, 23, 8, tzinfo=BERLIN)
        scheduler.shutdown(wait=False)


def _issues(engine: Engine) -> list[Issue]:
    with session_scope(engine) as session:
        return list(session.exec(select(Issue)))


def test_a_missed_run_inside_the_grace_is_caught_up_once(weekly: Settings, engine: Engine) -> None:
    _persist_job(weekly, engine)
    with time_machine.travel(datetime(2026, 11, 23, 10, tzinfo=BERLIN), tick=True):  # 2 h late
        events = _run_scheduler_until(weekly, engine, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
    assert [e.code for e in events] == [EVENT_JOB_EXECUTED]
    issues = _issues(engine)
    assert [(i.week, i.status) for i in issues] == [("2026-W48", IssueStatus.SENT)]
    with session_scope(engine) as session:
        assert issue_status(session, issues[0].number).accepted == 3


def test_a_missed_run_outside_the_grace_is_skipped_and_logged(
    weekly: Settings, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    _persist_job(weekly, engine)
    caplog.set_level(logging.WARNING, logger="scheduler")
    with time_machine.travel(datetime(2026, 11, 23, 15, tzinfo=BERLIN), tick=True):  # 7 h late
        events = _run_scheduler_until(weekly, engine, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
    assert [e.code for e in events] == [EVENT_JOB_MISSED]
    assert _issues(engine) == []
    assert "was missed by more than the grace time; skipped" in caplog.text


def test_a_week_with_nothing_to_pick_sends_nothing(
    weekly: Settings, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="scheduler")
    with time_machine.travel(datetime(2027, 3, 1, 8, tzinfo=BERLIN), tick=False):
        jobs.weekly_job()
    assert _issues(engine) == []
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
    [issue] = _issues(engine)
    assert issue.status == IssueStatus.DRAFT
    with session_scope(engine) as session:
        move_issue(session, issue.number, "approve")
    jobs.dispatch_job()  # the next tick sends it
    [issue] = _issues(engine)
    assert issue.status == IssueStatus.SENT


# --- approve / hold / cancel --------------------------------------------------------------


def test_editor_transitions_and_refusals(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    root = write_content(tmp_path / "content", [comparison("one", "2026-11-23")])
    from newsletter.publishing.content import load_content

    with session_scope(engine) as session:
        load_content(session, root)
        number = build_issue(session, "2026-W48", settings).issue.number

    def move(action: str) -> str:
        with session_scope(engine) as session:
            return move_issue(session, number, action).status

    assert move("hold") == IssueStatus.HELD
    assert move("approve") == IssueStatus.APPROVED
    assert move("approve") == IssueStatus.APPROVED  # idempotent
    assert move("hold") == IssueStatus.HELD
    assert move("cancel") == IssueStatus.CANCELLED
    for action in ("approve", "hold"):
        with pytest.raises(IssueError, match=f"cannot {action} issue #1: it is cancelled"):
            move(action)
    with session_scope(engine) as session:  # the comparison is free for another week
        assert session.exec(select(IssueComparison)).all() == []
        assert build_issue(session, "2026-W49", settings).created
    with session_scope(engine) as session:
        issue = session.exec(select(Issue).where(Issue.number == 2)).one()
        issue.status = IssueStatus.SENDING
    with session_scope(engine) as session, pytest.raises(IssueError, match="it is sending"):
        move_issue(session, 2, "cancel")
    with session_scope(engine) as session, pytest.raises(IssueError, match="there is no issue #9"):
        move_issue(session, 9, "approve")


def test_issue_list_next_and_moves_from_the_cli(env: Settings, engine: Engine) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["content", "load"]).exit_code == 0
    nxt = runner.invoke(app, ["issue", "next"])
    assert nxt.exit_code == 0, nxt.output
    assert "next run: Monday" in nxt.output
    assert runner.invoke(app, ["issue", "build", "--week", "2026-W48"]).exit_code == 0
    held = runner.invoke(app, ["issue", "hold", "1", "--reason", "vendor reply pending"])
    assert "issue #1 (2026-W48) is held" in held.output
    listed = runner.invoke(app, ["issue", "list"])
    assert listed.exit_code == 0
    assert "held" in listed.output
    assert "vendor reply pending" in listed.output
    refused = runner.invoke(app, ["issue", "cancel", "7"])
    assert refused.exit_code == 1
    assert "there is no issue #7" in refused.output


# --- two real scheduler processes ---------------------------------------------------------


def _scheduler_env(settings: Settings, root: Path, standin: StandIn) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env.update(
        NEWSLETTER_DATABASE_URL=settings.database_url,
        NEWSLETTER_SECRET_KEY=settings.secret_key,
        NEWSLETTER_CONTENT_DIR=str(root),
        NEWSLETTER_AUTO_SEND="true",
        NEWSLETTER_BACKEND="sendgrid",
        NEWSLETTER_SENDGRID_HOST=standin.url,
        SENDGRID_API_KEY=KEY,
        NEWSLETTER_BATCH_SIZE="7",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


def test_two_schedulers_racing_for_one_week_send_it_once(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    today = datetime.now(UTC).date()
    root = write_content(tmp_path / "content", [comparison("today", today)])
    people = add_subscribers(engine, 40)
    command = [
        sys.executable,
        "-c",
        "from newsletter.cli.main import main; main()",
        "scheduler",
        "--once",
    ]
    with StandIn(api_keys=[KEY]) as standin:
        standin.set_default_fault("slow", seconds=0.02)
        environ = _scheduler_env(settings, root, standin)
        racers = [
            subprocess.Popen(
                command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            for _ in range(2)
        ]
        logs = [racer.communicate(timeout=120)[0] for racer in racers]
        assert [racer.returncode for racer in racers] == [0, 0], logs
        got = standin.recipients()
    assert len(got) == len(set(got)), "somebody got the issue twice"
    assert sorted(got) == people.active_emails
    [issue] = _issues(engine)
    assert issue.status == IssueStatus.SENT
    joined = "\n".join(logs)
    assert joined.count("built (draft)") == 1
    assert "already taken" in joined


def test_the_scheduler_runs_in_the_foreground_and_stops_on_sigterm(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    root = write_content(tmp_path / "content", [comparison("one", "2026-11-23")])
    with StandIn(api_keys=[KEY]) as standin:
        environ = _scheduler_env(settings, root, standin)
        environ["NEWSLETTER_TIMEZONE"] = "Europe/Berlin"
        process = subprocess.Popen(
            [sys.executable, "-c", "from newsletter.cli.main import main; main()", "scheduler"],
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        lines: list[str] = []
        for line in process.stdout:  # wait until it is up, then ask it to stop
            lines.append(line)
            if "scheduler started" in line:
                process.send_signal(signal.SIGTERM)
                break
        rest, _ = process.communicate(timeout=30)
    log = "".join(lines) + rest
    assert process.returncode == 0, log
    assert "weekly job '0 8 * * mon' in Europe/Berlin" in log
    assert "received SIGTERM" in log
    assert "scheduler stopped" in log
    assert "Traceback" not in log


def test_a_send_left_in_sending_by_a_crash_is_resumed_on_start(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sender is killed (-9) mid-send; what the scheduler does on start (dispatch_job)
    finishes the send: everyone once, in-flight batches `unknown`, never re-sent."""
    from tests.newsletter.sending.test_sender import build

    issue = build(engine, settings, tmp_path / "content")
    people = add_subscribers(engine, 120)
    with StandIn(api_keys=[KEY]) as standin:
        standin.set_default_fault("slow", seconds=0.05)
        environ = _scheduler_env(settings, tmp_path / "content", standin)
        sender = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from newsletter.cli.main import main; main()",
                "issue",
                "send",
                "1",
            ],
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while standin.stats().accepted_requests < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        sender.send_signal(signal.SIGKILL)
        sender.wait(timeout=30)
        assert _issues(engine)[0].status == IssueStatus.SENDING  # what a crash leaves
        standin.set_default_fault(None)
        for name, value in environ.items():
            if name.startswith(("NEWSLETTER_", "SENDGRID_")):
                monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        jobs.stopping.clear()
        jobs.dispatch_job()  # the scheduler's first act on start
        time.sleep(0.3)  # let the killed sender's last slow requests land
        got = standin.recipients()
    assert len(got) == len(set(got)), "somebody got the issue twice"
    assert set(got) <= set(people.active_emails)
    [row] = _issues(engine)
    assert row.status == IssueStatus.SENT
    with session_scope(engine) as session:
        counts = issue_status(session, issue.number)
    assert counts.accepted + counts.unknown == len(people.active_emails)  # nobody dropped
    in_flight_at_most = 4 * 7  # NEWSLETTER_SEND_CONCURRENCY batches of NEWSLETTER_BATCH_SIZE
    assert counts.unknown <= in_flight_at_most


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
        [issue] = _issues(engine)
        assert issue.status == IssueStatus.SENT
    pause(engine, PauseCause.REFUSED, "stopped: HTTP 401: bad key")
    jobs.dispatch_job()
    assert _issues(engine)[0].status == IssueStatus.PAUSED
    pause(engine, PauseCause.STOP_REQUESTED, "stopped: the sender was asked to stop")
    jobs.dispatch_job()
    assert _issues(engine)[0].status == IssueStatus.SENT


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
        assert _issues(engine)[0].status == expected


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
    assert _issues(engine)[0].status == IssueStatus.SENT
    assert len(made) == 1
    assert closed == made
