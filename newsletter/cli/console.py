"""Where the CLI writes: results to stdout, problems to stderr as one line each.

Neither console turns `:name:` into an emoji (Rich's default): a problem at line 100 reads
`file.yaml:100:`, and text an editor quoted (`:fire:`) is shown as written. Lines that
carry the user's text (a problem, a report line) go out without markup and without soft
wrapping, so a cron log or a pipe gets one whole line per problem, whatever its length.

Nothing printed can drive the terminal: both consoles write every control character,
escape sequence and bidi control of what they render as its escape (`\\x1b[2J`, `\\u202e`),
whether it is a line, a table cell or an error, and whoever wrote it (a name stored by
older code, a CSV cell echoed in an import report, an address typed on the command line).
`shown` is that rule for one line of text and `plain` for a table cell; the consoles apply it
to whatever else they render (a cell made safe only there is measured before it grows, and
may be cut at its column's width: safe, but use `plain`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NoReturn

import typer
from rich.console import Console, ConsoleOptions, RenderableType
from rich.markup import escape
from rich.segment import Segment
from rich.text import Text

from newsletter.core.text import visible


def shown(text: str) -> str:
    """Text from outside as one safe line: each control character (line breaks included),
    escape sequence introducer and bidi control written as its escape."""
    return visible(text)


def plain(text: str) -> Text:
    """Text from outside as a table cell: `shown`, and never read as markup. Made safe
    before Rich measures the cell, so the column is as wide as what is printed."""
    return Text(shown(text))


class _SafeConsole(Console):
    """A Rich console whose output carries no control character it did not put there
    itself: the text of every segment is made visible (line feeds kept: they are the
    layout), while Rich's own control segments (cursor moves of a progress bar) pass."""

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            text = segment.text
            if segment.control is None and not text.isprintable() and text != "\n":
                yield Segment(visible(text, keep_newlines=True), segment.style)
            else:
                yield segment


console = _SafeConsole(highlight=False, emoji=False)
errors = _SafeConsole(stderr=True, highlight=False, emoji=False)


def fail(message: str, code: int = 1) -> NoReturn:
    """One `error: …` line on stderr, then exit. The message is plain text (escaped here,
    so callers pass names and reasons as they are), and the exit status is the caller's."""
    errors.print(f"[bold red]error:[/] {escape(shown(message))}", soft_wrap=True, markup=True)
    raise typer.Exit(code)


def problem(line: str) -> None:
    """One line of a report of problems (no markup: the text is the user's)."""
    errors.print(shown(line), soft_wrap=True, markup=False, highlight=False)


def say(line: str) -> None:
    """One line of a result on stdout, as it is: no markup, never wrapped."""
    console.print(shown(line), soft_wrap=True, markup=False, highlight=False)
