"""The `newsletter` command: the root app, the one place where errors become exit statuses,
and the registration of the command groups (one module each).

Every command is thin (parse, call one function, present) and lets failures rise: the root
group below turns each into one line on stderr and an exit status, so no command has its
own `except` for the service's errors.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

import typer
from sqlalchemy.exc import OperationalError
from typer._click import ClickException, Context
from typer.core import TyperGroup

from newsletter.cli import (
    composition,
    content,
    db,
    dev,
    issues,
    report,
    send,
    serve,
    subscribers,
    users,
    worker,
)
from newsletter.cli.console import fail
from newsletter.core.errors import Conflict, InvalidInput, NewsletterError, NotFound, Refused
from newsletter.core.settings import get_settings

EXIT_STATUS: dict[type[NewsletterError], int] = {
    NotFound: 1,
    Conflict: 1,
    InvalidInput: 1,
    Refused: 1,
}
"""The exit status of each error kind. All 1 today, as scripts written against the command
expect; a kind is listed so that telling them apart later is a change to this table alone."""
USER_ERROR = 1  # a NewsletterError of no kind, and a database that cannot be reached
INTERRUPTED = 130  # the shell's convention for Ctrl-C (128 + SIGINT)
UNEXPECTED = 2  # a bug: anything that is not a NewsletterError


def exit_status(exc: NewsletterError) -> int:
    """The status for an error, by its kind (the first listed kind it derives from)."""
    for kind, status in EXIT_STATUS.items():
        if isinstance(exc, kind):
            return status
    return USER_ERROR


class _OneLineErrors(TyperGroup):
    """Every failure becomes one line on stderr and a non-zero exit, never a traceback
    (unless NEWSLETTER_DEBUG asks for one of an unexpected error)."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, ClickException):
            raise
        except NewsletterError as exc:
            fail(str(exc), exit_status(exc))
        except OperationalError as exc:
            fail("database: " + " ".join(str(exc.orig).split()), USER_ERROR)
        except KeyboardInterrupt:
            fail("interrupted", INTERRUPTED)
        except Exception as exc:
            if _debug():
                raise
            fail(
                f"unexpected {type(exc).__name__}: {exc} "
                "(set NEWSLETTER_DEBUG=1 to see the traceback)",
                UNEXPECTED,
            )


def _debug() -> bool:
    """Whether to show a bug's traceback; settings that cannot even load say no."""
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
issue_app = typer.Typer(help="Weekly issues: build, render, send.", no_args_is_help=True)
send.register(issue_app)
issues.register(issue_app)
composition.register(issue_app)
report.register(issue_app)

db.register(app)
content.register(app)
app.add_typer(issue_app, name="issue")
subscribers.register(app)
dev.register(app)
serve.register(app)
users.register(app)
worker.register(app)


def _register_plugins() -> None:
    """Commands of the packages that build on this one (the scheduler) register themselves
    through the `newsletter.cli` entry point group, so this package imports none of them."""
    for entry in entry_points(group="newsletter.cli"):
        entry.load()(app)


_register_plugins()


def main() -> None:
    app()
