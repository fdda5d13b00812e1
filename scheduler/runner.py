"""`newsletter scheduler`: APScheduler 3.x in the foreground.

Run one per deployment. If two run anyway (on one database), each week still goes out
once: the jobs' guarantees live in the database (see `scheduler.jobs`); the second
process logs that the week was already taken, or helps finish the same send.

Misfire policy: a weekly run missed while the service was down is run once (coalesced)
when the scheduler comes back less than NEWSLETTER_MISFIRE_GRACE late (default 6 hours);
later than that it is skipped and logged, so an overdue issue never goes out days late
unseen: the editor sends it by hand (`newsletter issue send`) if it should still go.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from newsletter.core.clock import utcnow
from newsletter.core.settings import Settings
from newsletter.delivery.registry import provider
from newsletter.publishing.schedule import next_fire, weekly_trigger, zone
from scheduler import jobs
from scheduler.store import JOBS_TABLE

log = logging.getLogger("scheduler")

WEEKLY_ID = "weekly-issue"
DISPATCH_ID = "dispatch"
HOUSEKEEPING_ID = "housekeeping"


def configure(scheduler: BaseScheduler, settings: Settings, engine: Engine) -> None:
    """Stores, executors and the three jobs. The weekly job lives in the database with an
    explicit id and replace_existing (else every start would add a copy); when its trigger
    is unchanged, the stored next run time is kept, so a run missed while the service was
    down is still due (and caught up or skipped by the misfire policy) instead of being
    silently moved to next week by the replacement."""
    grace = int(settings.misfire_grace.total_seconds())
    trigger = weekly_trigger(settings)
    # IMMEDIATE transactions on SQLite: two schedulers writing the job row wait for each
    # other (busy timeout) instead of failing with "database is locked".
    store = SQLAlchemyJobStore(
        engine=engine.execution_options(sqlite_begin="IMMEDIATE"), tablename=JOBS_TABLE
    )
    scheduler.configure(
        jobstores={"default": store, "memory": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace},
        timezone=zone(settings),
    )
    store.start(scheduler, "default")
    stored = store.lookup_job(WEEKLY_ID)
    keep = {}
    if stored is not None and repr(stored.trigger) == repr(trigger) and stored.next_run_time:
        keep = {"next_run_time": stored.next_run_time}
    scheduler.add_job(
        "scheduler.jobs:weekly_job",
        trigger,
        id=WEEKLY_ID,
        name="build and send the weekly issue",
        replace_existing=True,
        misfire_grace_time=grace,
        coalesce=True,
        max_instances=1,
        **keep,
    )
    scheduler.add_job(
        "scheduler.jobs:dispatch_job",
        IntervalTrigger(minutes=1),
        id=DISPATCH_ID,
        name="send approved issues, resume interrupted sends",
        jobstore="memory",
        replace_existing=True,
        misfire_grace_time=30,
        coalesce=True,
    )
    scheduler.add_job(
        "scheduler.jobs:housekeeping_job",
        CronTrigger(hour=3, minute=15, timezone=zone(settings)),
        id=HOUSEKEEPING_ID,
        name="expire unconfirmed subscribers",
        jobstore="memory",
        replace_existing=True,
        misfire_grace_time=3600,
        coalesce=True,
    )
    scheduler.add_listener(_log_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR | EVENT_JOB_EXECUTED)


def _log_event(event: JobExecutionEvent) -> None:
    if event.code == EVENT_JOB_MISSED:
        log.warning(
            "job %s: the run due at %s was missed by more than the grace time; skipped "
            "(send it by hand with `newsletter issue send` if it should still go)",
            event.job_id,
            event.scheduled_run_time.isoformat(),
        )
    elif event.code == EVENT_JOB_ERROR:
        log.error("job %s failed: %s", event.job_id, event.exception)
    elif event.job_id != DISPATCH_ID:
        log.info("job %s done (due %s)", event.job_id, event.scheduled_run_time.isoformat())


def _shutdown_once_running(scheduler: BaseScheduler, patience: float = 120.0) -> None:
    """Stop the scheduler's main loop as soon as it runs (it may still be starting)."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        if scheduler.running:
            scheduler.shutdown(wait=False)
            return
        time.sleep(0.05)


def run(settings: Settings, engine: Engine, *, once: bool = False) -> None:
    """Run in the foreground until SIGINT/SIGTERM; `once` runs the weekly job now and exits.

    A signal never raises into whatever is running (a database call, a request): it sets
    `jobs.stopping`, which every job checks between steps and the sender between batches,
    and ends the scheduler's main loop. A send in progress stops after its batch and is
    left resumable; the process exits when it has.
    """
    weekly_trigger(settings)  # a bad schedule is one clear line before anything starts
    provider(settings)  # so is a misspelt NEWSLETTER_BACKEND
    scheduler = BlockingScheduler()

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping after the current batch", signal.Signals(signum).name)
        jobs.stopping.set()
        threading.Thread(target=_shutdown_once_running, args=(scheduler,), daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if once:
            jobs.dispatch_job()
            if not jobs.stopping.is_set():
                jobs.weekly_job(manual=True)
            return
        configure(scheduler, settings, engine)
        log.info("resuming any send a crash left behind")
        jobs.dispatch_job()
        upcoming = next_fire(settings, utcnow()).fires_at
        log.info(
            "scheduler started: weekly job '%s' in %s, misfire grace %s; next run %s",
            settings.schedule,
            settings.timezone,
            settings.misfire_grace,
            upcoming.isoformat() if upcoming else "never",
        )
        if not jobs.stopping.is_set():
            scheduler.start()  # blocks until a signal ends the main loop
    finally:
        jobs.stopping.set()
        if scheduler.running:
            scheduler.shutdown(wait=True)
        log.info("scheduler stopped")
