"""The thread that drains the sign-up queue beside the web app's request workers.

The web app starts one in its lifespan and stops it at shutdown (each uvicorn worker
process has its own; they share the queue safely). The form wakes it after its row is
committed; it also looks every `poll` seconds, for rows another process queued or a crash
left behind. It stops between two requests: at most the confirmation being sent is
waited for, and whatever is still queued is handled at the next start.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from newsletter.core.settings import Settings
from newsletter.core.threads import joined
from newsletter.delivery import Backend
from newsletter.sending.signup_queue import drain_signups, is_transient

log = logging.getLogger(__name__)

THREAD_NAME = "signup-dispatcher"
POLL_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0


class SignupDispatcher:
    """One thread that runs `drain_signups` whenever there may be something to drain."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        backend: Backend,
        *,
        poll: float = POLL_SECONDS,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.backend = backend
        self.poll = poll
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._wake.set()  # drain what an earlier run left at once
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A request was queued (and committed): drain now rather than at the next look."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop after the request in hand; False if it was still busy after `timeout`
        seconds (a send stuck past the provider's own timeout)."""
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        return joined(thread, timeout, log, "the sign-up dispatcher")

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            delay = self.poll if not failures else min(BACKOFF_MAX_SECONDS, 2.0**failures)
            self._wake.wait(delay)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                drain_signups(self.engine, self.settings, self.backend, stop=self._stop)
            except Exception as exc:
                failures += 1
                if is_transient(exc):
                    log.warning("sign-up queue: the database is unavailable (%s); retrying", exc)
                else:
                    log.exception("sign-up queue: unexpected error; retrying")
            else:
                failures = 0
