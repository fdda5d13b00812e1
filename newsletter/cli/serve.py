"""`newsletter serve` and `newsletter preview`: the two commands that run a web server in the
foreground. uvicorn and the web app are imported when a server starts, so every other command
starts without them."""

from __future__ import annotations

from typing import Annotated

import typer

from newsletter.cli.console import console
from newsletter.cli.issues import WeekOption
from newsletter.core.database import get_engine
from newsletter.core.settings import get_settings
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


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
) -> None:
    """Run the web service: public pages and the admin API (uvicorn).

    Example: [bold]newsletter serve --port 8000[/]
    """
    import uvicorn

    # Once, before any worker starts: development upgrades the schema; production refuses
    # (one line, exit 1) a database whose revision is not the code's (`newsletter db upgrade`).
    get_engine()
    uvicorn.run(
        "newsletter.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
    )


def register(root: typer.Typer) -> None:
    """Both at the root: `newsletter preview`, `newsletter serve`."""
    root.command("preview")(preview)
    root.command("serve")(serve)
