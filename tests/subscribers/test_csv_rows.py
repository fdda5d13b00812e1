"""Hostile CSV files: an unclosed quote, NUL bytes, a leading apostrophe, another separator
and byte order marks each change only what they must, are reported by line, and never stop
the rows after them from being read."""

from __future__ import annotations

import io
import sys
import time
from typing import Any

import pytest
from sqlalchemy import Engine

from newsletter.core.database import session_scope
from subscribers import csv_lines
from subscribers.csv_rows import _AROUND, trim
from subscribers.importer import BadRow, ImportFailed, ImportReport, import_csv
from subscribers.service import list_subscribers


def _run(engine: Engine, content: str) -> tuple[ImportReport, list[BadRow]]:
    reported: list[BadRow] = []
    report = import_csv(
        engine,
        io.StringIO(content, newline=""),
        confirmed=True,
        on_bad_row=reported.append,
        label="members.csv",
    )
    return report, reported


def _stored(engine: Engine) -> dict[str, str | None]:
    with session_scope(engine) as session:
        return {s.email: s.name for s in list_subscribers(session, limit=1000)}


def _bad(reported: list[BadRow]) -> list[tuple[int, str, str]]:
    return [(b.line, b.email, b.reason) for b in reported]


AFTER = "b@example.com,Bob\nc@example.com,Cat\n"


@pytest.mark.parametrize(
    ("opened", "email", "last"),
    [
        ('"a@example.com,Ann\n', "a@example.com,Ann", 4),  # in the email column: to the end
        ('a@example.com,"Ann\n', "a@example.com", 4),  # in the name column
        ('a@example.com,Ann,"555\n', "a@example.com", 4),  # in a column that is ignored
    ],
)
def test_an_unclosed_quote_is_reported_with_its_lines_and_the_rows_after_it_are_read(
    engine: Engine, opened: str, email: str, last: int
) -> None:
    report, reported = _run(engine, "email,name,phone\n" + opened + AFTER)
    assert _bad(reported) == [
        (
            2,
            email,
            f"a quoted field runs from line 2 to line {last} (an unclosed quote?): "
            f"not imported; lines 3 to {last} are read again as rows",
        )
    ]
    assert _stored(engine) == {"b@example.com": "Bob", "c@example.com": "Cat"}
    assert (report.rows, report.imported, report.bad) == (3, 2, 1)


def test_a_swallowing_quote_ends_where_the_next_quote_closes_it(engine: Engine) -> None:
    content = (
        'email,name\na@example.com,"Ann\nb@example.com,Bob\nc@example.com,"Cat"\n'
        "d@example.com,Dan\n"
    )
    _, reported = _run(engine, content)
    assert _bad(reported) == [
        (
            2,
            "a@example.com",
            "a quoted field runs from line 2 to line 4 (an unclosed quote?): "
            "not imported; lines 3 to 4 are read again as rows",
        )
    ]
    assert _stored(engine) == {
        "b@example.com": "Bob",
        "c@example.com": "Cat",
        "d@example.com": "Dan",
    }


def test_a_cell_written_on_two_lines_is_still_one_row(engine: Engine) -> None:
    """A spreadsheet cell with a line break, quoted as CSV allows, in the name or in a
    column that is ignored: no later line reads as a row, so the row is whole."""
    content = (
        "email,name,notes\n"
        'a@example.com,"Ann\nLee","call\nback, maybe"\n'
        'b@example.com,Bob,"see\nbob@elsewhere.example"\n'
        "c@example.com,Cat,\n"
    )
    report, reported = _run(engine, content)
    assert reported == []
    assert _stored(engine) == {
        "a@example.com": "Ann Lee",
        "b@example.com": "Bob",
        "c@example.com": "Cat",
    }
    assert report.rows == 3


def test_a_nul_byte_is_reported_on_its_line_and_the_rest_imports(engine: Engine) -> None:
    """In an address, a NUL is the row's error; in a name it is removed like every control
    character (on PostgreSQL, which refuses NUL in text, it once aborted the batch)."""
    content = (
        "email,name\na\x00@example.com,Ann\nnul@example.com,Nu\x00ll\x00\n\x00\nb@example.com,Bob\n"
    )
    report, reported = _run(engine, content)
    assert [(b.line, b.email) for b in reported] == [(2, "a\x00@example.com"), (4, "\x00")]
    assert "U+0000" in reported[0].reason
    assert str(reported[0]).startswith("members.csv:2: 'a\\x00@example.com': not a valid")
    assert _stored(engine) == {"nul@example.com": "Null", "b@example.com": "Bob"}
    assert (report.imported, report.bad) == (2, 2)


def test_a_leading_apostrophe_is_part_of_the_address(engine: Engine) -> None:
    content = (
        "email,name\n"
        "'lead@example.com,'Lead\n"
        "lead@example.com,Other\n"
        "<=bracketed@example.com>,Bracketed\n"
        "<'both@example.com>,Both\n"
    )
    _, reported = _run(engine, content)
    assert reported == []
    assert _stored(engine) == {
        "'lead@example.com": "Lead",  # the name's ' is a spreadsheet's text mark
        "lead@example.com": "Other",  # another mailbox
        "=bracketed@example.com": "Bracketed",
        "'both@example.com": "Both",
    }


@pytest.mark.parametrize("separator", [";", "\t", "|"])
def test_a_file_separated_otherwise_is_read_with_its_separator(
    engine: Engine, separator: str
) -> None:
    content = (
        f"Email{separator}Name\n"
        f"a@example.com{separator}Lovelace, Ada\n"
        f"b@example.com{separator}Bob{separator}extra\n"
    )
    _, reported = _run(engine, content)
    named = {";": "semicolon", "\t": "tab", "|": "vertical bar"}[separator]
    assert _bad(reported) == [
        (
            3,
            "b@example.com",
            f"3 fields where the header has 2 (quote a field that contains a {named})",
        )
    ]
    assert _stored(engine) == {"a@example.com": "Lovelace, Ada"}


def test_a_header_without_an_email_column_names_it_whatever_the_separator(
    engine: Engine,
) -> None:
    with pytest.raises(ImportFailed) as caught:
        _run(engine, "e-mail;name\na@example.com;Ann\n")
    assert str(caught.value) == (
        "members.csv:1: no 'email' column in the header 'e-mail;name'; "
        "the first line must name the columns, e.g. email,name"
    )
    with pytest.raises(ImportFailed, match="is it UTF-16"):
        _run(engine, "e\x00m\x00a\x00i\x00l\x00\n\x00")


def _upload_like(content: str) -> Any:
    """A stream decoded as plain UTF-8, as the API reads an upload: a BOM stays in it."""
    return io.TextIOWrapper(io.BytesIO(content.encode("utf-8")), encoding="utf-8", newline="")


def test_a_byte_order_mark_never_reaches_a_message_or_a_row(engine: Engine) -> None:
    with pytest.raises(ImportFailed) as caught:
        import_csv(engine, _upload_like("\ufeffname,e-mail\nAnn,a@example.com\n"), confirmed=True)
    assert "\ufeff" not in str(caught.value)
    assert "'name,e-mail'" in str(caught.value)

    # Two exports joined end to end, each with its BOM; BOMs around cells.
    content = (
        "\ufeffemail,name\na@example.com,Ann\n\ufeffemail,name\n"
        "\ufeffb@example.com\ufeff,\ufeffBob\n"
    )
    reported: list[BadRow] = []
    report = import_csv(
        engine, _upload_like(content), confirmed=True, on_bad_row=reported.append, label="x"
    )
    assert [(b.line, b.email) for b in reported] == [(3, "email")]
    assert all("\ufeff" not in str(b) and "\\ufeff" not in str(b) for b in reported)
    assert _stored(engine) == {"a@example.com": "Ann", "b@example.com": "Bob"}
    assert report.warnings == []


def test_a_name_is_cleaned_once_where_it_comes_in(engine: Engine) -> None:
    content = (
        "email,name\n"
        'a@example.com,"\x1b]0;owned\x07Ann\x1b[2J\r\nLee"\n'
        "b@example.com,\u202eBob\u202c\n"
        "c@example.com,\x1b[31m\n"
    )
    _, reported = _run(engine, content)
    assert reported == []
    assert _stored(engine) == {
        "a@example.com": "Ann Lee",
        "b@example.com": "Bob",
        "c@example.com": None,
    }


@pytest.mark.parametrize(
    ("content", "stored"),
    [
        (  # a name on two lines before the address: the closing line is no row of its own
            'Name,Email\n"Ada\nLovelace",ada@example.com\nBob,bob@example.com\n',
            {"ada@example.com": "Ada Lovelace", "bob@example.com": "Bob"},
        ),
        (  # a cell of three lines in an ignored column before the address
            'notes,email,name\n"call\nback\nlater",c@example.com,Cat\nx,d@example.com,Dan\n',
            {"c@example.com": "Cat", "d@example.com": "Dan"},
        ),
        (  # a note whose last line holds an address, but only in the cell the `"` closes
            'email,name,note\na@example.com,Ann,"see\nbob@elsewhere.example"\nb@example.com,Bob,\n',
            {"a@example.com": "Ann", "b@example.com": "Bob"},
        ),
    ],
)
def test_the_line_where_a_multi_line_cell_closes_is_not_a_row_of_its_own(
    engine: Engine, content: str, stored: dict[str, str]
) -> None:
    report, reported = _run(engine, content)
    assert reported == []
    assert _stored(engine) == stored
    assert (report.rows, report.imported) == (2, 2)


def test_a_quote_closed_by_a_stray_quote_on_a_row_of_its_own_is_still_unclosed(
    engine: Engine,
) -> None:
    """`b@example.com,"Bob"` ends the quote opened on line 2, but by a `"` that opens a
    cell: the line is a row of its own, so line 2's quote swallowed it."""
    content = 'email,name\na@example.com,"Ann\nb@example.com,"Bob"\nc@example.com,Cat\n'
    _, reported = _run(engine, content)
    assert _bad(reported) == [
        (
            2,
            "a@example.com",
            "a quoted field runs from line 2 to line 3 (an unclosed quote?): "
            "not imported; line 3 is read again as a row",
        )
    ]
    assert _stored(engine) == {"b@example.com": "Bob", "c@example.com": "Cat"}


def test_the_lines_a_quote_swallowed_are_each_read_once_as_lines_of_their_own(
    engine: Engine,
) -> None:
    """Line 3 opens a quote of its own: read again, it is one line (its quote closed at the
    line's end), not a second record that swallows line 4."""
    content = 'email,name\na@example.com,"Ann\nb@example.com,"Bob\nc@example.com,Cat\n'
    report, reported = _run(engine, content)
    assert [b.line for b in reported] == [2]
    assert _stored(engine) == {"b@example.com": "Bob", "c@example.com": "Cat"}
    assert (report.rows, report.imported, report.bad) == (3, 2, 1)


def test_cells_past_the_header_across_lines_are_an_unclosed_quote(engine: Engine) -> None:
    """`x","y` closes a quote and opens the next on every line: each cell stays small, but
    the record takes the lines after it and has more cells than the header names."""
    content = "email,name,note\n" + "".join(f'a{i}@example.com,x","y\n' for i in range(4))
    report, reported = _run(engine, content)
    assert _bad(reported) == [
        (
            2,
            "a0@example.com",
            "a quoted field runs from line 2 to line 5 (an unclosed quote?): "
            "not imported; lines 3 to 5 are read again as rows",
        )
    ]
    assert _stored(engine) == {f"a{i}@example.com": 'x"' for i in (1, 2, 3)}
    assert (report.rows, report.imported) == (4, 3)


def test_a_quote_reopened_on_every_line_is_read_in_one_pass_with_memory_flat(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20,000 lines of `a1@example.com,x","y`: a record stops at 1,000 lines (reported as
    unreadable, its later lines handed back to be read again); read again, they run over
    once more, so they are read one by one and nothing is handed back twice. No line is
    handed to the csv reader more than twice and no more than 1,000 lines are held (the
    old code handed them back again and again: quadratic, 18 s for 4,000 lines)."""
    count = 20_000
    content = "email,name\n" + "".join(f'a{i}@example.com,x","y\n' for i in range(count))
    handed: dict[int, int] = {}
    held = 0
    original = csv_lines.Lines.__next__

    def counted(self: csv_lines.Lines) -> str:
        nonlocal held
        line = original(self)
        number = self.taken[-1][0]
        handed[number] = handed.get(number, 0) + 1
        held = max(held, len(self.taken))
        if handed[number] > 2 or held > 1_000:
            raise AssertionError(f"line {number} handed to csv {handed[number]} times, {held} held")
        return line

    monkeypatch.setattr(csv_lines.Lines, "__next__", counted)
    started = time.monotonic()
    report, reported = _run(engine, content)
    assert time.monotonic() - started < 10  # (a generous bound: about 1 s here)
    assert (report.rows, report.bad, report.imported) == (count, count, 0)
    assert sum(handed.values()) < 2 * count
    cut = [b for b in reported if "1,000 lines" in b.reason]
    # (the lines read again take one line more before they are cut: 3 to 1002, read one
    # by one; the next record read once starts at 1003; the last, from 19,021, ends with
    # the file before its 1,000th line)
    assert [b.line for b in cut] == list(range(2, count + 2 - 1_000, 1_001))
    assert cut[0].reason == (
        "a row runs over more than 1,000 lines: a quoted field runs from line 2 past "
        "line 1001 (an unclosed quote?): not imported; lines 3 to 1001 are read again as rows"
    )
    assert [b.line for b in reported[1:1001]] == list(range(3, 1003))
    assert reported[1].reason == (
        "3 fields where the header has 2 (quote a field that contains a comma)"
    )


@pytest.mark.parametrize(
    ("content", "last"),
    [
        (  # inches: the row's name ends with a `"`, as if it closed the name on line 2
            'email,name\nx@example.com,"Ada\nb@example.com,Screen 27"\nc@example.com,Carl\n',
            {"b@example.com": 'Screen 27"', "c@example.com": "Carl"},
        ),
        (  # the same before a separator
            'email,name,city\nx@example.com,"Ada\nb@example.com,Bob",Paris\n'
            "c@example.com,Carl,Rome\n",
            {"b@example.com": 'Bob"', "c@example.com": "Carl"},
        ),
        (  # a note's last line holding an address and a name reads exactly like such a row
            'email,name,note\na@example.com,Ann,"first\nx@example.com,n"\nc@example.com,Carl,\n',
            {"x@example.com": 'n"', "c@example.com": "Carl"},
        ),
    ],
)
def test_a_row_ending_with_a_quote_after_an_unclosed_one_is_a_row_of_its_own(
    engine: Engine, content: str, last: dict[str, str]
) -> None:
    """A line that closes the open cell but holds, before its closing `"`, a whole cell with
    a valid address where the email column is, is read as a row that an unclosed quote
    swallowed: reported, and read again, rather than merged into the name above it."""
    report, reported = _run(engine, content)
    first = content.split("\n")[1].split(",")[0]
    assert _bad(reported) == [
        (
            2,
            first,
            "a quoted field runs from line 2 to line 3 (an unclosed quote?): "
            "not imported; line 3 is read again as a row",
        )
    ]
    assert _stored(engine) == last
    assert (report.rows, report.imported, report.bad) == (3, 2, 1)


def test_a_cell_on_several_lines_among_the_swallowed_ones_is_read_whole(engine: Engine) -> None:
    """The lines an unclosed quote swallowed are read again as CSV: a legitimate row on two
    lines among them (line 4's quote, stray where line 2's was open, closes on line 5) is
    one row, not a row and a bad line."""
    content = (
        'email,name\na@example.com,"Ann\nb@example.com,Bob\nc@example.com,"Carl\nLovelace"\n'
        "d@example.com,Dan\n"
    )
    report, reported = _run(engine, content)
    assert _bad(reported) == [
        (
            2,
            "a@example.com",
            "a quoted field runs from line 2 to line 4 (an unclosed quote?): "
            "not imported; lines 3 to 4 are read again as rows",
        )
    ]
    assert _stored(engine) == {
        "b@example.com": "Bob",
        "c@example.com": "Carl Lovelace",
        "d@example.com": "Dan",
    }
    assert (report.rows, report.imported, report.bad) == (4, 3, 1)


def test_a_cell_is_trimmed_of_every_whitespace_and_byte_order_mark_in_any_mixture() -> None:
    spaces = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
    assert set(_AROUND) == set(spaces) | {"\ufeff"}
    assert trim("\ufeff \u3000\ufeffAda Lovelace\u00a0\ufeff\t") == "Ada Lovelace"
    assert trim(" a \ufeff b ") == "a \ufeff b"
