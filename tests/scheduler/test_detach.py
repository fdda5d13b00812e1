"""NEWSLETTER_SEND_DETACH: the scheduler starts its sends and leaves them to the workers."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
import time_machine
from sqlalchemy import Engine
from sqlmodel import select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings, get_settings
from newsletter.delivery import Backend
from newsletter.delivery.registry import make_backend
from newsletter.publishing.lifecycle import IssueStatus, PauseCause
from newsletter.publishing.models import Issue
from newsletter.sending import StandingWorker, issue_status
from scheduler import jobs
from tests.scheduler.helpers import BERLIN, issues_in


@pytest.fixture
def detached(weekly: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("NEWSLETTER_SEND_DETACH", "true")
    get_settings.cache_clear()
    return get_settings()


def outbox_size(settings: Settings) -> int:
    return len(list(settings.outbox_dir.rglob("*.eml")))


def a_worker_pass(settings: Settings, engine: Engine) -> None:
    def backends() -> Backend:
        return make_backend(settings)

    StandingWorker(engine, settings, backends, threading.Event()).one_pass()


def test_the_weekly_send_is_started_and_left_to_the_workers(
    detached: Settings, engine: Engine
) -> None:
    with time_machine.travel(datetime(2026, 11, 23, 8, tzinfo=BERLIN), tick=False):
        jobs.weekly_job()
    [issue] = issues_in(engine)
    assert issue.status == IssueStatus.SENDING
    with session_scope(engine) as session:
        counts = issue_status(session, issue.number)
    assert (counts.audience, counts.queued) == (3, 3)  # the snapshot is taken
    jobs.dispatch_job()  # a tick: the send in progress is the workers'
    assert issues_in(engine)[0].status == IssueStatus.SENDING
    assert outbox_size(detached) == 0

    a_worker_pass(detached, engine)

    assert issues_in(engine)[0].status == IssueStatus.SENT
    assert outbox_size(detached) == 3


def test_a_stopped_send_is_resumed_for_the_workers(detached: Settings, engine: Engine) -> None:
    with time_machine.travel(datetime(2026, 11, 23, 8, tzinfo=BERLIN), tick=False):
        jobs.weekly_job()
    with session_scope(engine) as session:
        row = session.exec(select(Issue)).one()
        row.status, row.pause_cause = IssueStatus.PAUSED, PauseCause.STOP_REQUESTED

    jobs.dispatch_job()

    assert issues_in(engine)[0].status == IssueStatus.SENDING
    assert outbox_size(detached) == 0
