"""Running a real scheduler in a test, with its clock controlled."""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine
from apscheduler.events import JobEvent
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine
from sqlmodel import select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.publishing.models import Issue
from scheduler.runner import WEEKLY_ID, configure

BERLIN = ZoneInfo("Europe/Berlin")


def run_scheduler_until(settings: Settings, engine: Engine, event_mask: int) -> list[JobEvent]:
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


def persist_job(settings: Settings, engine: Engine) -> None:
    """The service ran on Sunday evening, stored the weekly job, and went down."""
    with time_machine.travel(datetime(2026, 11, 22, 20, tzinfo=BERLIN), tick=False):
        scheduler = BackgroundScheduler()
        configure(scheduler, settings, engine)
        scheduler.start(paused=True)
        job = scheduler.get_job(WEEKLY_ID)
        assert job is not None
        assert job.next_run_time == datetime(2026, 11, 23, 8, tzinfo=BERLIN)
        scheduler.shutdown(wait=False)


def issues_in(engine: Engine) -> list[Issue]:
    with session_scope(engine) as session:
        return list(session.exec(select(Issue)))
