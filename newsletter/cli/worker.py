"""`newsletter worker`: a standing sender, run on as many machines as the sends need.

Thin: it sets up logging, turns SIGTERM and SIGINT into a stop request, and runs
`newsletter.sending.work` until then. Stopping finishes the requests in flight and exits 0
without pausing anything (other workers may be sending the same issue).
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import typer

from newsletter.core.database import get_engine
from newsletter.core.logs import configure_logging
from newsletter.core.settings import get_settings
from newsletter.delivery import Backend
from newsletter.delivery.registry import provider
from newsletter.sending import work

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT ask the worker to stop; a second one changes nothing (the requests
    in flight still get their answers recorded)."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("newsletter.worker").info(
            "%s: finishing the requests in flight, then stopping", signal.Signals(signum).name
        )
        stop.set()

    for signum in STOP_SIGNALS:
        signal.signal(signum, handler)


def worker() -> None:
    """Send every issue that is being sent, with the others running: until SIGTERM or
    Ctrl-C, which finish the requests in flight and exit 0 (the issue stays `sending`, for
    the other workers or the next one). Looks for sends every NEWSLETTER_WORKER_POLL
    seconds; joins no paused, held or cancelled issue. Run any number, anywhere.

    Example: [bold]newsletter worker[/]   (with `newsletter issue send --detach`)
    """
    settings = get_settings()
    configure_logging(settings)  # text lines, or JSON lines (NEWSLETTER_LOG_FORMAT)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    engine = get_engine()
    factory = provider(settings)  # a misspelt NEWSLETTER_BACKEND stops the worker here

    def backends() -> Backend:
        return factory(settings)

    stop = threading.Event()
    _stop_on_signals(stop)
    work(engine, settings, backends, stop)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
