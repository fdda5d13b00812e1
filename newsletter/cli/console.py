"""Where the CLI writes: results to stdout, problems to stderr as one line each.

Neither console turns `:name:` into an emoji (Rich's default): a problem at line 100 reads
`file.yaml:100:`, and text an editor quoted (`:fire:`) is shown as written. Lines that
carry the user's text (a problem, a report line) go out without markup and without soft
wrapping, so a cron log or a pipe gets one whole line per problem, whatever its length.
"""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

console = Console(highlight=False, emoji=False)
errors = Console(stderr=True, highlight=False, emoji=False)


def fail(message: str, code: int = 1) -> NoReturn:
    """One `error: …` line on stderr, then exit. The message is plain text (escaped here,
    so callers pass names and reasons as they are), and the exit status is the caller's."""
    errors.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, markup=True)
    raise typer.Exit(code)


def problem(line: str) -> None:
    """One line of a report of problems (no markup: the text is the user's)."""
    errors.print(line, soft_wrap=True, markup=False, highlight=False)


def say(line: str) -> None:
    """One line of a result on stdout, as it is: no markup, never wrapped."""
    console.print(line, soft_wrap=True, markup=False, highlight=False)
