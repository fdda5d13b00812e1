"""The CLI's consoles: text from outside is shown, never obeyed by the terminal, whatever
prints it (a line, a table cell, an error), while Rich's own styling still works."""

from __future__ import annotations

import io

import pytest
import typer
from rich.table import Table
from rich.text import Text

from newsletter.cli import console as console_module
from newsletter.cli.console import _SafeConsole, fail, plain, problem, say, shown

HOSTILE = "\x1b]0;owned\x07Eve\x1b[2J\x9b31m\u202eevE\r\nBcc: x\x00"
SHOWN = "\\x1b]0;owned\\x07Eve\\x1b[2J\\x9b31m\\u202eevE\\r\\nBcc: x\\x00"


def _capture(monkeypatch: pytest.MonkeyPatch, terminal: bool = False) -> io.StringIO:
    out = io.StringIO()
    for name in ("console", "errors"):
        safe = _SafeConsole(file=out, highlight=False, emoji=False, force_terminal=terminal)
        monkeypatch.setattr(console_module, name, safe)
    return out


def test_a_line_is_shown_as_one_line_of_escapes() -> None:
    assert shown(HOSTILE) == SHOWN
    assert shown("Zoë 👩\u200d💻, O'Neil [bold]") == "Zoë 👩\u200d💻, O'Neil [bold]"
    assert plain(HOSTILE).plain == SHOWN


def test_say_problem_and_fail_write_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    out = _capture(monkeypatch)
    say(HOSTILE)
    problem(HOSTILE)
    with pytest.raises(typer.Exit):
        fail(HOSTILE + " [red]not markup[/]")
    assert out.getvalue().splitlines() == [SHOWN, SHOWN, f"error: {SHOWN} [red]not markup[/]"]


def test_whatever_is_rendered_carries_no_control_character(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A table cell made of a plain Text (not passed through `plain`) is made safe too."""
    out = _capture(monkeypatch, terminal=True)
    table = Table("name", "address")
    table.add_row(Text(HOSTILE), "[bold]eve@example.com[/]")
    console_module.console.print(table)
    console_module.console.print(HOSTILE, markup=False)
    printed = out.getvalue()
    assert "\\x1b]0;owned" in printed
    without_styles = printed.replace("\x1b[1m", "").replace("\x1b[0m", "")
    assert "\x1b" not in without_styles  # only Rich's own bold, and its reset
    assert "\x1b[1m" in printed
    assert not any(c in printed for c in "\x07\x9b\u202e\r\x00")
