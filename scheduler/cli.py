"""`newsletter scheduler`: registered into the `newsletter` command through the
`newsletter.cli` entry-point group (see pyproject.toml), since newsletter does not import us."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from newsletter.core.database import get_engine
from newsletter.core.logs import configure_logging
from newsletter.core.settings import get_settings


def scheduler(
    once: Annotated[
        bool, typer.Option("--once", help="Run the weekly job now, once, and exit (for cron).")
    ] = False,
) -> None:
    """Run the scheduler in the foreground: the weekly issue (NEWSLETTER_SCHEDULE in
    NEWSLETTER_TIMEZONE), approved issues, resumed sends, daily housekeeping. Stops cleanly
    on Ctrl-C or SIGTERM. Run one per deployment.

    Example: [bold]NEWSLETTER_SCHEDULE='0 8 * * mon' newsletter scheduler[/]
    """
    from scheduler.runner import run

    settings = get_settings()
    configure_logging(settings)  # text as before, or JSON lines (NEWSLETTER_LOG_FORMAT)
    for noisy in ("apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    run(settings, get_engine(), once=once)


def register(app: typer.Typer) -> None:
    app.command("scheduler")(scheduler)
