"""The standing worker (`newsletter worker`): a process that helps send every issue in
`sending`, on any machine, for as long as it runs.

It meets the other workers (and any `issue send` or scheduler run) only in the ledger: it
joins a send as one more sender (`send_issue(..., standing=True)`), claims batches with the
rest (on PostgreSQL `FOR UPDATE SKIP LOCKED`, so workers never wait for each other's
claims), keeps its leases alive with its heartbeat, and looks again every `worker_poll`
seconds for a send to join.

It joins a send in progress and nothing else: starting a send is a decision (a person's
`issue send --detach`, the scheduler's with NEWSLETTER_SEND_DETACH); a paused, held or
cancelled issue waits for whoever decides. When `stop` is set (SIGTERM, Ctrl-C) it finishes
the requests it has in flight, records their answers, claims nothing more and returns,
leaving the issue `sending`: other workers carry on, or the next worker to start does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine
from sqlmodel import col, select

from newsletter.core.database import session_scope
from newsletter.core.errors import NewsletterError
from newsletter.core.settings import Settings
from newsletter.delivery import Backend
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.publishing.models import Issue
from newsletter.sending.sender import send_issue
from newsletter.sending.tally import SendReport

log = logging.getLogger("newsletter.worker")

BackendFactory = Callable[[], Backend]
"""Makes the backend one join sends through; the join closes it when it leaves the send."""


def sending_issues(engine: Engine) -> list[int]:
    """The numbers of the issues being sent now, oldest first."""
    with session_scope(engine) as session:
        return list(
            session.exec(
                select(Issue.number)
                .where(col(Issue.status) == IssueStatus.SENDING)
                .order_by(col(Issue.number))
            ).all()
        )


class StandingWorker:
    """One worker process's loop; it remembers the refusal it last logged per issue, so a
    send it cannot help with (a message the backend refuses) is said once, not each poll."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        backends: BackendFactory,
        stop: threading.Event,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.backends = backends
        self.stop = stop
        self._refused: dict[int, str] = {}

    def run(self) -> None:
        """Join every send in progress, one after another, until `stop` is set."""
        log.info(
            "worker started: %d request(s) at a time, looking for sends every %g s",
            self.settings.send_concurrency,
            self.settings.worker_poll,
            extra={
                "concurrency": self.settings.send_concurrency,
                "poll": self.settings.worker_poll,
            },
        )
        while not self.stop.is_set():
            try:
                self.one_pass()
            except Exception as exc:  # the database away for a moment: look again later
                log.error("looking for sends: %s", " ".join(str(exc).split()))
            self.stop.wait(self.settings.worker_poll)
        log.info("worker stopped: nothing of its own is in flight")

    def one_pass(self) -> list[SendReport]:
        """Join each issue in `sending` once (a join lasts until the send needs this worker
        no more); the reports of the joins that got in."""
        reports: list[SendReport] = []
        for number in sending_issues(self.engine):
            if self.stop.is_set():
                break
            report = self.join(number)
            if report is not None:
                reports.append(report)
        return reports

    def join(self, number: int) -> SendReport | None:
        """Help send issue `number` until it is finished, paused, or this worker is stopped.
        A refusal is logged (once while it stays the same) and None returned; so is an
        unexpected error, which must not end a process that other sends rely on."""
        try:
            with self.backends() as backend:
                report = send_issue(
                    self.engine, number, self.settings, backend, stop=self.stop, standing=True
                )
        except NewsletterError as exc:
            said = str(exc)
            if self._refused.get(number) != said:
                log.warning("issue #%d not joined: %s", number, said, extra={"issue": number})
            self._refused[number] = said
            return None
        except Exception:
            log.exception(
                "issue #%d: unexpected error; looking again later", number, extra={"issue": number}
            )
            return None
        self._refused.pop(number, None)
        log.info(
            "issue #%d: %s; this worker sent %d in %.1f s (%d batch retries); the send: "
            "%d accepted, %d unknown, %d failed, %d skipped, %d still queued",
            number,
            report.status,
            report.sent_now,
            report.elapsed,
            report.retried,
            report.accepted,
            report.unknown,
            report.failed,
            report.skipped,
            report.queued,
            extra={
                **report.log_fields(),
                "sent_now": report.sent_now,
                "seconds": round(report.elapsed, 1),
                "retried": report.retried,
            },
        )
        return report


def work(
    engine: Engine, settings: Settings, backends: BackendFactory, stop: threading.Event
) -> None:
    """Run a standing worker until `stop` is set (the `newsletter worker` command, or a
    test's thread)."""
    StandingWorker(engine, settings, backends, stop).run()
