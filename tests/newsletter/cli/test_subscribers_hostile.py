"""Hostile input through `newsletter subscribers …`: what the CLI prints never drives the
terminal, and a hostile CSV is reported line by line while the rest of it imports."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from newsletter.cli.main import app
from newsletter.core.database import get_engine
from newsletter.core.settings import Settings

runner = CliRunner()
# Anything a terminal would obey: C0 and C1 controls but the line feed, and bidi controls.
OBEYED = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["subscribers", *args])
    assert "Traceback" not in result.output
    assert not OBEYED.search(result.output), repr(result.output)
    return result.exit_code, result.output


def test_a_hostile_file_is_reported_by_line_and_the_rest_imports(
    env: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "members.csv"
    path.write_text(
        "email,name\n"
        '"a@example.com,Ann\n'  # an unclosed quote: swallowed every row after it
        "'lead@example.com,Lead\n"
        "\x1b]0;owned\x07x@example.com,Escape\n"
        "nul\x00@example.com,Nul\n"
        "named@example.com,Nu\x00l \x1b[31mRed\u202e\n"
        "last@example.com,Last\n",
        encoding="utf-8",
    )
    code, out = run("import", str(path))
    assert code == 0, out
    assert (
        f"{path}:2: a@example.com,Ann: a quoted field runs from line 2 to line 7 "
        "(an unclosed quote?): not imported; lines 3 to 7 are read again as rows"
    ) in out
    assert f"{path}:4: '\\x1b]0;owned\\x07x@example.com': not a valid address" in out
    assert f"{path}:5: 'nul\\x00@example.com': not a valid address" in out
    assert f"{path}: 6 rows: 3 imported, 0 already on the list, 3 bad" in out
    code, out = run("list")
    assert "'lead@example.com" in out
    assert "lead@example.com " not in out.replace("'lead@example.com", "")
    assert "Nul Red" in out
    assert "last@example.com" in out


def test_a_semicolon_file_with_a_bom_imports(env: Settings, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffEmail;Name\r\nada@example.com;Lovelace, Ada\r\n".encode())
    code, out = run("import", str(path))
    assert code == 0, out
    assert f"{path}: 1 rows: 1 imported" in out
    code, out = run("show", "ada@example.com")
    assert "Lovelace, Ada" in out


def _store_as_older_code_did(name: str, email: str = "old@example.com") -> None:
    """A row written before names were cleaned where they came in."""
    with get_engine().begin() as conn:
        conn.execute(
            text(
                "INSERT INTO subscriber (email, name, status, source, created_at, "
                "status_changed_at, status_reason) VALUES (:e, :n, 'active', 'cli', "
                ":t, :t, :n)"
            ),
            {"e": email, "n": name, "t": "2026-01-01"},
        )


def test_names_stored_by_older_code_never_drive_the_terminal(env: Settings) -> None:
    run("list")  # creates the tables
    _store_as_older_code_did("\x1b]0;owned\x07Eve\x1b[2J\x1b[31m\u202eevE\r\nBcc: x")
    code, out = run("list")
    assert code == 0
    assert "│ \\x1b]0;owned" in out  # shown (as far as the column is wide), not obeyed
    code, out = run("show", "old@example.com")
    assert code == 0
    assert "\\u202eevE\\r\\nBcc: x" in out
    code, out = run("unsubscribe", "old@example.com", "--reason", "asked \x1b[2J")
    assert code == 0


def test_an_address_typed_with_escapes_is_shown_not_obeyed(env: Settings) -> None:
    code, out = run("show", "\x1b]0;owned\x07eve@example.com")
    assert code == 1
    assert "error: \\x1b]0;owned\\x07eve@example.com is not on the list" in out
    code, out = run("add", "eve\x1b[2J@example.com", "--name", "Eve")
    assert code == 1
    assert "error: 'eve\\x1b[2J@example.com': not a valid address" in out


def test_an_export_imports_back_through_the_cli(env: Settings, tmp_path: Path) -> None:
    people = {
        "-minus@example.com": "-1",
        "'lead@example.com": "'Lead",
        "\uff1dwide@example.com": "\uff20SUM(A1)",
        "plain@example.com": "Plain, Jr.",
    }
    for email, name in people.items():
        assert run("add", "--name", name, "--confirmed", "--", email)[0] == 0
    target = tmp_path / "list.csv"
    assert run("export", str(target))[0] == 0
    lines = target.read_text(encoding="utf-8").splitlines()[1:]
    assert [line.split(",")[0] for line in lines] == [
        "<-minus@example.com>",
        "'lead@example.com",
        "<\uff1dwide@example.com>",
        "plain@example.com",
    ]
    for email in people:
        assert run("forget", "--yes", "--", email)[0] == 0
    with get_engine().begin() as conn:
        conn.execute(text("DELETE FROM forgotten_address"))
    code, out = run("import", str(target), "--confirmed")
    assert f"{target}: 4 rows: 4 imported" in out, out
    for email, name in people.items():
        code, out = run("show", "--", email)
        assert code == 0, out
        assert f"email              {email}" in out or email in out
        assert name in out
