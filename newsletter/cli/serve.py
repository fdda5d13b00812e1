"""`newsletter serve` and `newsletter preview`: the two commands that run a web server in the
foreground. uvicorn and the web app are imported when a server starts, so every other command
starts without them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from newsletter.cli.console import console
from newsletter.cli.issues import WeekOption
from newsletter.core.database import get_engine
from newsletter.core.settings import Settings, SettingsError, get_settings
from newsletter.publishing.weeks import parse_week


def preview(
    number: Annotated[
        int | None, typer.Argument(help="Issue number (default: the next one).")
    ] = None,
    week: WeekOption = None,
    port: Annotated[int, typer.Option(help="Port of the local preview server.")] = 8001,
    open_browser: Annotated[bool, typer.Option("--open/--no-open", help="Open a browser.")] = True,
) -> None:
    """Preview the next issue locally: desktop and phone widths, light and dark, plain text,
    checks; the page refreshes itself when content/ or templates/email/ change.

    Example: [bold]newsletter preview[/]   (then edit content/comparisons/*.yaml)
    """
    import threading
    import webbrowser

    import uvicorn

    from newsletter.web.app import create_app

    settings = get_settings()
    query = f"?number={number}" if number else (f"?week={parse_week(week)}" if week else "")
    url = f"http://127.0.0.1:{port}/preview{query}"
    console.print(f"preview at {url} (Ctrl-C stops it)")
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=[url]).start()
    uvicorn.run(
        create_app(settings, get_engine(), preview=True),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )


WORKER_HEALTHCHECK = 30
"""Seconds uvicorn's supervisor waits for a worker's answer before it kills it as hung.
Its default (5) kills workers still importing the app on a busy host, again and again."""


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
) -> None:
    """Run the web service: public pages and the admin API (uvicorn).

    Logs as NEWSLETTER_LOG_FORMAT says (text or json); /metrics is on the app behind the
    admin token, or on NEWSLETTER_METRICS_PORT (same interface, no token) when that is set.

    Example: [bold]newsletter serve --port 8000[/]
    """
    import uvicorn

    from newsletter.core.logs import uvicorn_log_config
    from newsletter.web.access_log import redacting

    settings = get_settings()
    # Once, before any worker starts: development upgrades the schema; production refuses
    # (one line, exit 1) a database whose revision is not the code's (`newsletter db upgrade`).
    engine = get_engine()
    log_config = uvicorn_log_config(settings) or uvicorn.config.LOGGING_CONFIG  # text: as before
    log_config = redacting(log_config)  # no link's token in the access log
    with metrics_directory(settings) as directory:
        stop = start_metrics_server(settings, engine, directory)
        try:
            uvicorn.run(
                "newsletter.web.app:create_app",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                proxy_headers=True,
                log_config=log_config,
                timeout_worker_healthcheck=WORKER_HEALTHCHECK,
            )
        finally:
            stop()


@contextmanager
def metrics_directory(settings: Settings) -> Iterator[Path]:
    """The folder the workers count in (`core.metrics`): the configured one, or a private
    one made now and removed at exit. Set before any worker or metric exists; the settings
    are read again so that the app built in this process sees it too (`--workers 1`)."""
    import shutil
    import tempfile

    from newsletter.core.metrics import share_directory

    private = None
    directory = settings.metrics_dir
    if directory is None:
        directory = private = Path(tempfile.mkdtemp(prefix="newsletter-metrics-"))
    share_directory(directory)
    get_settings.cache_clear()
    try:
        yield directory
    finally:
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)


def start_metrics_server(settings: Settings, engine: Engine, directory: Path) -> Callable[[], None]:
    """With NEWSLETTER_METRICS_PORT: prometheus_client's own HTTP server on that port of
    NEWSLETTER_METRICS_HOST, in
    this (the supervising) process, reading every worker's counters and the ledger at
    each scrape. Returns what stops it (nothing to stop without the port)."""
    if settings.metrics_port is None:
        return lambda: None
    from prometheus_client import start_http_server

    from newsletter.analytics.ledger_metrics import LedgerCollector
    from newsletter.core.metrics import scrape_registry

    registry = scrape_registry(directory, LedgerCollector(engine))
    host = settings.metrics_host
    try:
        server, _ = start_http_server(settings.metrics_port, addr=host, registry=registry)
    except OSError as exc:
        raise SettingsError(
            f"NEWSLETTER_METRICS_PORT: cannot listen on {host}:{settings.metrics_port} "
            f"({exc.strerror or exc})"
        ) from None
    return server.shutdown


def register(root: typer.Typer) -> None:
    """Both at the root: `newsletter preview`, `newsletter serve`."""
    root.command("preview")(preview)
    root.command("serve")(serve)
