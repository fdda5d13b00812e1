"""A send started from the web desk, run in a thread the app owns rather than inside the
request that asked for it: a million recipients take minutes, a request must not.

The thread calls `send_issue`, the CLI's own entry point, so the desk's send is the same
exactly-once send through the ledger. One at a time per process: a second start while one
runs is refused (another process, or `newsletter issue send`, may still join it through the
ledger, which is safe). When the app stops, the run is asked to stop between batches: a
send nobody else is working on is paused (`stop_requested`), and a later `issue send` or the
scheduler resumes it. A crash leaves leases that expire; the next run reaps them.

The last progress the run reported is kept for the desk's progress figures (this run's own
rate and retries), with how the run ended: its report, or the error that stopped it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy import Engine

from newsletter.core.errors import NewsletterError
from newsletter.core.settings import Settings
from newsletter.core.threads import joined
from newsletter.delivery import Backend
from newsletter.sending.decision import Confirmed
from newsletter.sending.errors import SendConflict
from newsletter.sending.sender import send_issue
from newsletter.sending.tally import SendProgress, SendReport

log = logging.getLogger(__name__)

THREAD_NAME = "desk-send"


@dataclass(frozen=True)
class DeskRun:
    """What the desk's send thread did last: which issue, its latest progress, and once it
    ended, its report or the error that ended it."""

    number: int
    progress: SendProgress | None = None
    report: SendReport | None = None
    error: str | None = None
    running: bool = True


class BackgroundSends:
    """At most one send at a time, in a thread of its own; `stop` at the app's shutdown."""

    def __init__(self, engine: Engine, settings: Settings, backend: Backend) -> None:
        self.engine = engine
        self.settings = settings
        self.backend = backend
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: DeskRun | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def last(self, number: int) -> DeskRun | None:
        """The desk's latest run of issue `number` in this process, if any."""
        found = self._last
        return found if found is not None and found.number == number else None

    def start(self, number: int, expected: Confirmed | None) -> None:
        """Start sending issue `number`; SendConflict if a desk send is running already."""
        with self._lock:
            if self.running:
                busy = self._last.number if self._last else "another issue"
                raise SendConflict(
                    f"the desk is already sending issue #{busy}; wait for it to finish"
                )
            self._stop.clear()
            self._last = DeskRun(number)
            self._thread = threading.Thread(
                target=self._run, args=(number, expected), name=THREAD_NAME, daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Ask the run to stop between batches and wait; False if it was still busy."""
        self._stop.set()
        return joined(self._thread, timeout, log, "the desk's send")

    def _progress(self, number: int, progress: SendProgress) -> None:
        self._last = DeskRun(number, progress)

    def _run(self, number: int, expected: Confirmed | None) -> None:
        progress = None
        try:
            report = send_issue(
                self.engine,
                number,
                self.settings,
                self.backend,
                on_progress=lambda p: self._progress(number, p),
                stop=self._stop,
                expected=expected,
            )
        except NewsletterError as exc:
            progress = self._last.progress if self._last else None
            self._last = DeskRun(number, progress, error=str(exc), running=False)
        except Exception as exc:
            log.exception("the desk's send of issue #%s stopped", number, extra={"issue": number})
            progress = self._last.progress if self._last else None
            self._last = DeskRun(number, progress, error=f"stopped: {exc}", running=False)
        else:
            self._last = DeskRun(number, report, report=report, running=False)
