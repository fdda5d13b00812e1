"""The `newsletter` command. Thin: parse, call one core function, present the result."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.exc import OperationalError
from sqlmodel import Session
from typer._click import ClickException, Context
from typer.core import TyperGroup

from newsletter.cli_send import register as register_send_commands
from newsletter.cli_subscribers import app as subscribers_app
from newsletter.console import console, fail, problem
from newsletter.content import ContentError, check_content, load_content
from newsletter.database import get_engine, make_engine, session_scope, upgrade
from newsletter.demo import run_demo, write_issue_files
from newsletter.errors import NewsletterError
from newsletter.issues import build_issue, get_issue, rerender_issue
from newsletter.settings import get_settings
from newsletter.weeks import parse_week, week_of
from subscribers.clock import utcnow
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
        with session_scope() as session:
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
    with session_scope() as session:
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


@app.command()
def demo() -> None:
    """Run the main job on the embedded defaults: load content/, add demo subscribers, build
    the issue of the newest comparisons' week and write it to the outbox. Safe to re-run."""
    settings = get_settings()
    result = run_demo(get_engine(), settings, settings.preview_dir)
    console.print(
        f"content: {len(result.load.created)} new, {len(result.load.updated)} updated, "
        f"{len(result.load.unchanged)} unchanged comparisons"
    )
    console.print(f"subscribers: {result.subscribers_added} demo subscriber(s) added")
    state = "built" if result.created else "already built"
    console.print(f"issue #{result.issue_number} for {result.week}: {state}")
    table = Table("what", "where", box=None)
    for kind, path in result.files.items():
        table.add_row(kind, str(path))
    table.add_row("outbox", f"{settings.outbox_dir} ({len(result.outbox)} .eml files)")
    console.print(table)
    if result.outbox:
        console.print(f"open one: {result.outbox[0]}")


def main() -> None:
    app()
