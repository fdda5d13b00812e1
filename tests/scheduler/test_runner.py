"""The scheduler process: checks before it starts, missed runs caught up or skipped, a
crash resumed on start, SIGTERM, and exactly-once across two real scheduler processes."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from sqlalchemy import Engine
from sqlmodel import select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings, SettingsError, get_settings
from newsletter.devtools.standin import StandIn
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.publishing.models import Issue
from newsletter.sending import issue_status
from scheduler import jobs
from scheduler.runner import run
from tests.factories import comparison, write_content
from tests.newsletter.sending.test_sender import KEY, add_subscribers
from tests.scheduler.helpers import BERLIN, issues_in, persist_job, run_scheduler_until


def test_a_misspelt_backend_stops_the_scheduler_before_it_starts(
    settings: Settings, engine: Engine
) -> None:
    settings.backend = "sendgird"
    with pytest.raises(SettingsError, match=r"^NEWSLETTER_BACKEND: no provider named 'sendgird'"):
        run(settings, engine, once=True)
    with session_scope(engine) as session:
        assert session.exec(select(Issue)).all() == []


def test_a_missed_run_inside_the_grace_is_caught_up_once(weekly: Settings, engine: Engine) -> None:
    persist_job(weekly, engine)
    with time_machine.travel(datetime(2026, 11, 23, 10, tzinfo=BERLIN), tick=True):  # 2 h late
        events = run_scheduler_until(weekly, engine, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
    assert [e.code for e in events] == [EVENT_JOB_EXECUTED]
    issues = issues_in(engine)
    assert [(i.week, i.status) for i in issues] == [("2026-W48", IssueStatus.SENT)]
    with session_scope(engine) as session:
        assert issue_status(session, issues[0].number).accepted == 3


def test_a_missed_run_outside_the_grace_is_skipped_and_logged(
    weekly: Settings, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    persist_job(weekly, engine)
    caplog.set_level(logging.WARNING, logger="scheduler")
    with time_machine.travel(datetime(2026, 11, 23, 15, tzinfo=BERLIN), tick=True):  # 7 h late
        events = run_scheduler_until(weekly, engine, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
    assert [e.code for e in events] == [EVENT_JOB_MISSED]
    assert issues_in(engine) == []
    assert "was missed by more than the grace time; skipped" in caplog.text


def _scheduler_env(settings: Settings, root: Path, standin: StandIn) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env.update(
        NEWSLETTER_DATABASE_URL=settings.database_url,
        NEWSLETTER_SECRET_KEY=settings.secret_key,
        NEWSLETTER_CONTENT_DIR=str(root),
        NEWSLETTER_POSTAL_ADDRESS=settings.postal_address,  # as rendered: the checks compare
        NEWSLETTER_SITE_URL=settings.site_url,
        NEWSLETTER_AUTO_SEND="true",
        NEWSLETTER_BACKEND="sendgrid",
        NEWSLETTER_SENDGRID_HOST=standin.url,
        SENDGRID_API_KEY=KEY,
        NEWSLETTER_BATCH_SIZE="7",
        NEWSLETTER_SEND_CONCURRENCY="4",  # pinned: the kill test bounds what was in flight
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
    [issue] = issues_in(engine)
    assert issue.status == IssueStatus.SENT
    joined = "\n".join(logs)
    assert joined.count("built and approved automatically") == 1
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
                "--yes",
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
        assert issues_in(engine)[0].status == IssueStatus.SENDING  # what a crash leaves
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
    [row] = issues_in(engine)
    assert row.status == IssueStatus.SENT
    with session_scope(engine) as session:
        counts = issue_status(session, issue.number)
    assert counts.accepted + counts.unknown == len(people.active_emails)  # nobody dropped
    in_flight_at_most = 4 * 7  # NEWSLETTER_SEND_CONCURRENCY batches of NEWSLETTER_BATCH_SIZE
    assert counts.unknown <= in_flight_at_most
