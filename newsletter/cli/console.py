"""Where the CLI writes: results to stdout, problems to stderr as one line each."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


def fail(message: str, code: int = 1) -> NoReturn:
    """One `error: …` line on stderr, then exit. The message is plain text (escaped here,
    so callers pass names and reasons as they are), and the exit status is the caller's."""
    errors.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, markup=True)
    raise typer.Exit(code)


def problem(line: str) -> None:
    """One line of a report of problems (no markup: the text is the user's)."""
    errors.print(line, soft_wrap=True, markup=False, highlight=False)
