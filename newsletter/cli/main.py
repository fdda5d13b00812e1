"""The `newsletter` command. Thin: parse, call one core function, present the result."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.exc import OperationalError
from sqlmodel import Session
from typer._click import ClickException, Context
from typer.core import TyperGroup

from newsletter.cli.console import console, fail, problem
from newsletter.cli.dev import register as register_dev_commands
from newsletter.cli.send import register as register_send_commands
from newsletter.cli.subscribers import app as subscribers_app
from newsletter.core.clock import utcnow
from newsletter.core.database import get_engine, make_engine, session_scope, upgrade
from newsletter.core.errors import NewsletterError
from newsletter.core.settings import get_settings
from newsletter.publishing.content import ContentError, check_content, load_content
from newsletter.publishing.files import write_issue_files
from newsletter.publishing.issues import (
    build_issue,
    get_issue,
    issue_for_week,
    list_issues,
    move_issue,
    pick_comparisons,
    rerender_issue,
)
from newsletter.publishing.preview import PreviewFailure, build_preview
from newsletter.publishing.schedule import next_fire
from newsletter.publishing.weeks import parse_week, week_of
from newsletter.sending.ledger import issue_status
from subscribers.errors import SubscriberError


class _OneLineErrors(TyperGroup):
    """Every known failure becomes one line on stderr and a non-zero exit, never a traceback."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, ClickException):
            raise
        except (NewsletterError, SubscriberError) as exc:
            fail(str(exc))
        except OperationalError as exc:
            fail("database: " + " ".join(str(exc.orig).split()))
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except Exception as exc:
            if _debug():
                raise
            fail(
                f"unexpected {type(exc).__name__}: {exc} "
                "(set NEWSLETTER_DEBUG=1 to see the traceback)",
                2,
            )


def _debug() -> bool:
    try:
        return get_settings().debug
    except Exception:
        return False


app = typer.Typer(
    cls=_OneLineErrors,
    help="Weekly AI Tool Verdicts: load comparisons, build the weekly issue, send it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
content_app = typer.Typer(help="The comparison files editors write.", no_args_is_help=True)
issue_app = typer.Typer(help="Weekly issues: build, render, send.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(content_app, name="content")
app.add_typer(issue_app, name="issue")
app.add_typer(subscribers_app, name="subscribers")
register_send_commands(issue_app, app)
register_dev_commands(app)


def _register_plugins() -> None:
    """Commands of the packages that build on this one (the scheduler) register themselves
    through the `newsletter.cli` entry point group, so this package imports none of them."""
    for entry in entry_points(group="newsletter.cli"):
        entry.load()(app)


def _session() -> Session:
    return Session(get_engine(), expire_on_commit=False)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations (every command also does this on first use)."""
    engine = make_engine(get_settings().database_url)
    changed = upgrade(engine)
    console.print("schema upgraded to the newest revision" if changed else "schema is up to date")


ContentDir = Annotated[
    Path | None,
    typer.Argument(help="Content folder (default: NEWSLETTER_CONTENT_DIR, i.e. content/)."),
]


@content_app.command("check")
def content_check(directory: ContentDir = None) -> None:
    """Check every content file; print each problem with file, line and field. Writes nothing.

    Example: [bold]newsletter content check[/]
    """
    root = directory or get_settings().content_dir
    checked = check_content(root)
    for item in checked.problems:
        problem(str(item))
    if checked.problems:
        fail(f"{len(checked.problems)} problem(s) in {root}")
    console.print(
        f"{root}: {len(checked.reviewers)} reviewers and "
        f"{len(checked.comparisons)} comparisons, no problems"
    )


@content_app.command("load")
def content_load(directory: ContentDir = None) -> None:
    """Check, then load every comparison into the database in one transaction.

    A bad file loads nothing; loading the same files twice changes nothing.
    Example: [bold]newsletter content load[/]
    """
    root = directory or get_settings().content_dir
    try:
        with session_scope(immediate=True) as session:
            report = load_content(session, root)
    except ContentError as exc:
        for item in exc.problems:
            problem(str(item))
        fail(str(exc))
    console.print(
        f"loaded {root}: {len(report.created)} new, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged comparisons; {report.reviewers} reviewer change(s)"
    )


WeekOption = Annotated[
    str | None, typer.Option("--week", help="ISO week such as 2026-W48 (default: this week).")
]


@issue_app.command("build")
def issue_build(
    week: WeekOption = None,
    refresh: Annotated[
        bool, typer.Option(help="Re-render an existing issue that has not started sending.")
    ] = False,
) -> None:
    """Create the week's issue and render it (or show it, if it exists).

    Example: [bold]newsletter issue build --week 2026-W48[/]
    """
    settings = get_settings()
    chosen = parse_week(week) if week else week_of(utcnow().date())
    with session_scope(immediate=True) as session:
        built = build_issue(session, chosen, settings)
        if refresh and not built.created:
            rerender_issue(session, built.issue, settings)
        issue = built.issue
    verb = "built" if built.created else ("re-rendered" if refresh else "exists:")
    console.print(f"{verb} issue #{issue.number} for {issue.week} ({issue.status})")
    console.print(f"  subject:   {issue.subject}", markup=False)
    console.print(f"  preheader: {issue.preheader}", markup=False)
    console.print(f"  html: {len(issue.html.encode()):,} bytes, text: {len(issue.text):,} chars")
    console.print(f"  next: newsletter issue render {issue.number}")


@issue_app.command("render")
def issue_render(
    number: Annotated[int, typer.Argument(help="Issue number.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder to write to (default: NEWSLETTER_PREVIEW_DIR)."),
    ] = None,
) -> None:
    """Write issue-N.html, issue-N.txt and issue-N.mjml (the stored snapshot) to a folder.

    Example: [bold]newsletter issue render 1 --out var/preview[/]
    """
    with session_scope() as session:
        issue = get_issue(session, number)
    for kind, path in write_issue_files(issue, out or get_settings().preview_dir).items():
        console.print(f"{kind:5} {path}")


@issue_app.command("list")
def issue_list(
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
) -> None:
    """Issues, newest first: number, week, status, comparisons, sent counts.

    Example: [bold]newsletter issue list[/]
    """
    with session_scope() as session:
        rows = list_issues(session, limit)
        table = Table("#", "week", "status", "comparisons", "accepted", "unknown", "failed")
        for row in rows:
            counts = issue_status(session, row.number)
            table.add_row(
                str(row.number),
                row.week,
                row.status,
                str(row.comparisons),
                str(counts.accepted),
                str(counts.unknown),
                str(counts.failed),
            )
    console.print(table if rows else "no issues yet: newsletter issue build")
    for row in rows:
        if row.status_reason:
            console.print(f"#{row.number}: {row.status_reason}", markup=False)


@issue_app.command("next")
def issue_next() -> None:
    """What the next scheduled run would pick, and when it fires (in local time).

    Example: [bold]newsletter issue next[/]
    """
    settings = get_settings()
    fire = next_fire(settings, utcnow())
    if fire.fires_at is None:
        fail(f"NEWSLETTER_SCHEDULE '{settings.schedule}' never fires")
    week = week_of(fire.fires_at.date())
    console.print(f"next run: {fire.fires_at:%A %d %B %Y %H:%M %Z} ({fire.zone}), week {week}")
    with session_scope() as session:
        existing = issue_for_week(session, week)
        if existing is not None:
            console.print(f"issue #{existing.number} for {week} exists ({existing.status})")
            return
        picked = pick_comparisons(session, week, settings.comparisons_per_issue)
    if not picked:
        console.print(f"nothing to pick for {week}: that run will send nothing")
        return
    console.print(f"it would pick {len(picked)} comparison(s):")
    for comparison in picked:
        console.print(f"  {comparison.published}  {comparison.title}", markup=False)
    mode = "sends it at once" if settings.auto_send else "leaves it for `issue approve`"
    console.print(f"then builds the issue and {mode}")


def _move(number: int, action: str, reason: str | None) -> None:
    with session_scope(immediate=True) as session:
        issue = move_issue(session, number, action, reason)
    console.print(f"issue #{issue.number} ({issue.week}) is {issue.status}")


@issue_app.command("approve")
def issue_approve(number: Annotated[int, typer.Argument(help="Issue number.")]) -> None:
    """Approve a draft or held issue: the scheduler sends it at its next tick.

    Example: [bold]newsletter issue approve 3[/]
    """
    _move(number, "approve", "approved by an editor")


@issue_app.command("hold")
def issue_hold(
    number: Annotated[int, typer.Argument(help="Issue number.")],
    reason: Annotated[str, typer.Option(help="Why, for the team.")] = "held by an editor",
) -> None:
    """Hold an issue: it is not sent until approved.

    Example: [bold]newsletter issue hold 3 --reason "waiting for a vendor reply"[/]
    """
    _move(number, "hold", reason)


@issue_app.command("cancel")
def issue_cancel(
    number: Annotated[int, typer.Argument(help="Issue number.")],
    reason: Annotated[str, typer.Option(help="Why, for the team.")] = "cancelled by an editor",
) -> None:
    """Cancel an issue before sending starts; its comparisons go back to the pool.

    Example: [bold]newsletter issue cancel 3[/]
    """
    _move(number, "cancel", reason)


@issue_app.command("check")
def issue_check(
    number: Annotated[
        int | None, typer.Argument(help="Issue number (default: the next one).")
    ] = None,
    week: WeekOption = None,
    links: Annotated[
        bool, typer.Option("--links", help="Also check that every link answers (needs a network).")
    ] = False,
) -> None:
    """Check an issue as a subscriber would get it: size, images, links, subject, footer,
    headers, comparison blocks. Exit 1 on any error.

    Example: [bold]newsletter issue check 3[/]
    """
    result = build_preview(get_engine(), get_settings(), week=week, number=number, links=links)
    if isinstance(result, PreviewFailure):
        for line in result.problems:
            problem(line)
        fail("the issue cannot be rendered")
    label = f"issue #{result.number} ({result.week}{', provisional' if result.provisional else ''})"
    for finding in result.findings:
        problem(str(finding))
    if result.errors:
        fail(f"{label}: {len(result.errors)} error(s)")
    warnings = len(result.findings)
    console.print(f"{label}: all checks pass" + (f", {warnings} warning(s)" if warnings else ""))


@app.command()
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


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
) -> None:
    """Run the web service: public pages and the admin API (uvicorn).

    Example: [bold]newsletter serve --port 8000[/]
    """
    import uvicorn

    get_engine()  # upgrade the schema once, before any worker starts
    uvicorn.run(
        "newsletter.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
    )


_register_plugins()


def main() -> None:
    app()
