"""CSV imports uploaded on the desk, run in background threads the app owns.

Why not in the request: the importer takes about a minute for a million rows, longer
than a browser or a proxy waits for an answer. The upload is copied to a file of our own
(Starlette deletes its copy when the request ends), a thread runs the CLI's importer on it
(`subscribers.importer.import_csv`, same rules, same report), and the progress page reads
the job's counters until it is done. Jobs live in this process's memory (a restart ends
them: the importer commits batch by batch, and running the file again imports the rest);
the latest `KEPT` are remembered.

Each import is in the audit log twice: when the upload is accepted (in the request's own
transaction) and when it ends, with its counts (here, in a transaction of its own).
"""

from __future__ import annotations

import io
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final

from sqlalchemy import Engine

from newsletter.accounts.audit import Actor, Audited, record
from newsletter.core.clock import utcnow
from newsletter.core.database import session_scope
from newsletter.core.errors import NotFound
from subscribers.importer import BAD_ROWS_KEPT, BadRow, ImportFailed, ImportReport, import_csv

KEPT: Final = 20
log = logging.getLogger(__name__)


class _Stopped(Exception):
    """The app is stopping: the import ends after the batch in hand."""


@dataclass
class ImportJob:
    """One uploaded file's import. Written by its thread, read by the progress page (each
    field is replaced whole, so a reader never sees half a value)."""

    id: str
    label: str
    size: int
    confirmed: bool
    actor: Actor
    started_at: datetime = field(default_factory=utcnow)
    rows: int = 0
    bytes_read: int = 0
    bad: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)
    report: ImportReport | None = None
    failure: str | None = None
    finished_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.finished_at is not None

    @property
    def share(self) -> float:
        """How much of the file is read (0..1), as far as the reader's buffer tells."""
        return 1.0 if self.done or not self.size else min(self.bytes_read / self.size, 1.0)

    def summary(self) -> str:
        report = self.report or ImportReport(self.label)
        counts = (
            f"{report.rows:,} rows: {report.imported:,} imported, "
            f"{report.unchanged:,} already on the list, {report.bad:,} bad"
        )
        return f"{counts}; {self.failure}" if self.failure else counts


class ImportJobs:
    """The app's imports: `start` one, `get` it by id, `close` at shutdown."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.jobs: dict[str, ImportJob] = {}
        self.threads: list[threading.Thread] = []
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def start(self, path: Path, label: str, *, confirmed: bool, actor: Actor) -> ImportJob:
        """Import the file at `path` (which the job deletes when done) in a new thread."""
        job = ImportJob(secrets.token_urlsafe(12), label, path.stat().st_size, confirmed, actor)
        thread = threading.Thread(
            target=self._run, args=(job, path), name=f"import-{job.id}", daemon=True
        )
        with self.lock:
            self.jobs[job.id] = job
            for old in list(self.jobs)[:-KEPT]:
                if self.jobs[old].done:
                    del self.jobs[old]
            self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()
        return job

    def get(self, job_id: str) -> ImportJob:
        found = self.jobs.get(job_id)
        if found is None:
            raise NotFound("no such import (the server may have restarted since)")
        return found

    def close(self, timeout: float = 30.0) -> None:
        """Stop every import after its batch in hand, and wait for them."""
        self.stopping.set()
        for thread in list(self.threads):
            thread.join(timeout)

    def _run(self, job: ImportJob, path: Path) -> None:
        try:
            with path.open("rb") as raw:
                stream = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                job.report = import_csv(
                    self.engine,
                    stream,
                    confirmed=job.confirmed,
                    on_bad_row=lambda row: _keep_bad(job, row),
                    on_progress=self._progress(job, raw.tell),
                    label=job.label,
                )
        except ImportFailed as failed:
            job.report, job.failure = failed.report, str(failed)
        except _Stopped:
            job.failure = "stopped when the server stopped; import the file again for the rest"
        except Exception:  # the page must say it ended; the log keeps the cause
            log.exception("import %s failed", job.id)
            job.failure = "failed: the fault is logged; rows already imported stay"
        finally:
            path.unlink(missing_ok=True)
            job.report = job.report or ImportReport(job.label, rows=job.rows, bad=job.bad)
            self._audit(job)
            job.finished_at = utcnow()

    def _progress(self, job: ImportJob, position: Callable[[], int]) -> Callable[[int], None]:
        def progress(rows: int) -> None:
            job.rows = rows
            job.bytes_read = position()
            if self.stopping.is_set():
                raise _Stopped()

        return progress

    def _audit(self, job: ImportJob) -> None:
        try:
            with session_scope(self.engine, immediate=True) as session:
                record(session, job.actor, Audited.SUBSCRIBER_IMPORT, job.label, job.summary())
        except Exception:
            log.exception("import %s: its audit entry could not be written", job.id)


def _keep_bad(job: ImportJob, row: BadRow) -> None:
    job.bad += 1
    if len(job.bad_rows) < BAD_ROWS_KEPT:
        job.bad_rows.append(row)
