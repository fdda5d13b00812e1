"""`newsletter content …`: the comparison files editors write, checked and loaded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from newsletter.cli.console import fail, problem, say
from newsletter.core.database import session_scope
from newsletter.core.settings import get_settings
from newsletter.publishing.content import ContentError, check_content
from newsletter.publishing.withdrawal import ContentLoad, load_and_withdraw

app = typer.Typer(help="The comparison files editors write.", no_args_is_help=True)

ContentDir = Annotated[
    Path | None,
    typer.Argument(help="Content folder (default: NEWSLETTER_CONTENT_DIR, i.e. content/)."),
]


@app.command("check")
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
    say(
        f"{root}: {len(checked.reviewers)} reviewers and "
        f"{len(checked.comparisons)} comparisons, no problems"
    )


@app.command("load")
def content_load(directory: ContentDir = None) -> None:
    """Check, then load every comparison into the database in one transaction.

    A bad file loads nothing; loading the same files twice changes nothing. A comparison
    whose file was deleted is withdrawn: never picked again, taken out of draft issues
    (re-rendered); an approved or held issue keeps it, and the load says so.
    Example: [bold]newsletter content load[/]
    """
    settings = get_settings()
    root = directory or settings.content_dir
    with listing_problems(), session_scope(immediate=True) as session:
        loaded = load_and_withdraw(session, root, settings)
    present_load(root, loaded)


@contextmanager
def listing_problems() -> Iterator[None]:
    """Print every problem of a refused load, one per line, before the one error line that
    says nothing was written: the editor needs every place, not the first."""
    try:
        yield
    except ContentError as exc:
        for item in exc.problems:
            problem(str(item))
        raise


def present_load(root: Path, loaded: ContentLoad) -> None:
    """What a load did, for `content load` and `issue build --refresh` alike."""
    report = loaded.report
    say(
        f"loaded {root}: {len(report.created)} new, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged comparisons; {report.reviewers} reviewer change(s)"
    )
    for line in loaded.notes():
        say(line)
    for line in loaded.warnings():
        problem(f"warning: {line}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="content")
