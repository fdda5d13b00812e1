"""CSV export: cells a spreadsheet cannot run, wherever one could start a formula, and a
file that imports back to the same addresses and names."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from newsletter.core.database import session_scope
from subscribers import export as export_module
from subscribers.csv_rows import address_of, trim
from subscribers.export import (
    address_cell,
    export_csv,
    neutralize_cell,
    restore_cell,
)
from subscribers.importer import import_csv
from subscribers.models import Source, Status
from subscribers.service import add_subscriber, find_subscriber

SIGNS = "=+-@"
LINE_BREAKS = "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029"


def _lines(cell: str) -> list[str]:
    return cell.splitlines() or [""]


def _after_separators(line: str) -> list[str]:
    """The texts of a line that follow a `,`, `;`, tab or `|`: where a spreadsheet that
    splits the line on that separator starts a cell."""
    return re.split("[,;\t|]", line)[1:]


def _runs_somewhere(cell: str) -> bool:
    """Whether a spreadsheet could run some part of a cell: a line of it, or the text after
    a separator (Excel in a `;` locale splits a .csv on `;`)."""
    return any(
        _could_start_a_formula(part)
        for line in _lines(cell)
        for part in [line, *_after_separators(line)]
    )


def _could_start_a_formula(line: str) -> bool:
    """The spreadsheets' rule, written independently of the module: the first character
    that is not blank, folded to ASCII, is a formula sign (or a tab or CR begins it)."""
    visible = line.lstrip("".join(c for c in line if _blank(c)))
    if not visible:
        return line[:1] in ("\t", "\r")
    return visible[0] in SIGNS + "\u2212" or unicodedata.normalize("NFKC", visible[0])[:1] in SIGNS


def _blank(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) in ("Zs", "Zl", "Zp", "Cc", "Cf")


def _exported(source: Any, **options: Any) -> list[list[str]]:
    out = io.StringIO(newline="")
    count = export_csv(source, out, **options)
    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert count == len(rows) - 1
    return rows


def _reimport(engine: Engine) -> list[Any]:
    """Export, empty the list, import the file: the report's bad rows."""
    content = io.StringIO(newline="")
    export_csv(engine, content)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM status_change"))
        conn.execute(text("DELETE FROM subscriber"))
    report = import_csv(
        engine, io.StringIO(content.getvalue(), newline=""), confirmed=True, label="export.csv"
    )
    assert report.warnings == []
    return report.bad_rows


PEOPLE = {
    "=eq@example.com": "=cmd|' /C calc'!A0",
    "semi@example.com": "Mal;=1+2;",
    "comma@example.com": "Ann, =HYPERLINK(1)",
    "pipe@example.com": "x|@SUM(1);'q",
    "+plus@example.com": "+1",
    "-minus@example.com": "-1",
    "at@example.com": "@SUM(A1)",
    "quote@example.com": "'already quoted",
    "'lead@example.com": "Lead",
    "'=both@example.com": "'=both",
    "\uff1dwide@example.com": '\uff1dHYPERLINK("http://evil.example")',
    "\ufe62small@example.com": "\ufe63small",
    "plain@example.com": "Plain Name, Jr.",
    "noname@example.com": None,
}


def test_export_neutralises_formula_cells_and_imports_back_the_same(engine: Engine) -> None:
    with session_scope(engine) as session:
        for email, name in PEOPLE.items():
            add_subscriber(session, email, name=name, source=Source.CLI, confirmed=True)
    rows = _exported(engine)
    assert rows[0] == [
        "email",
        "name",
        "status",
        "source",
        "created_at",
        "confirmed_at",
        "unsubscribed_at",
    ]
    cells = {r[0]: r[1] for r in rows[1:]}
    assert cells == {
        "<=eq@example.com>": "'=cmd|'' /C calc'!A0",
        "semi@example.com": "Mal;'=1+2;",
        "comma@example.com": "Ann,' =HYPERLINK(1)",
        "pipe@example.com": "x|'@SUM(1);''q",
        "<+plus@example.com>": "'+1",
        "<-minus@example.com>": "'-1",
        "at@example.com": "'@SUM(A1)",
        "quote@example.com": "''already quoted",
        "'lead@example.com": "Lead",  # an address is never marked with a '
        "'=both@example.com": "''=both",
        "<\uff1dwide@example.com>": '\'\uff1dHYPERLINK("http://evil.example")',
        "<\ufe62small@example.com>": "'\ufe63small",
        "plain@example.com": "Plain Name, Jr.",
        "noname@example.com": "",
    }
    for row in rows[1:]:
        assert not any(_runs_somewhere(cell) for cell in row)
        assert row[2:4] == ["active", "cli"]
        assert row[4].endswith("+00:00")
        assert row[6] == ""

    # Back in through the importer: the same addresses and names, not "'=eq@…".
    assert _reimport(engine) == []
    with session_scope(engine) as session:
        for email, name in PEOPLE.items():
            stored = find_subscriber(session, email)
            assert stored is not None, email
            assert (stored.email, stored.name) == (email, name)


OLD_NAMES = {
    "blank@example.com": " =1+1",
    "tab@example.com": "\t=1+1",
    "broken@example.com": 'Ann\r\n=HYPERLINK("http://evil.example")',
    "escape@example.com": "\x1b]0;owned\x07Eve\x1b[2J",
    "soh@example.com": "Soh\x01l",  # (PostgreSQL never stored a NUL)
}


def test_names_stored_by_older_code_are_exported_clean(engine: Engine) -> None:
    """Rows written before names were cleaned: the export writes the clean name (what every
    part of the service shows), so no line of a cell starts a formula."""
    with engine.begin() as conn:
        for email, name in OLD_NAMES.items():
            conn.execute(
                text(
                    "INSERT INTO subscriber (email, name, status, source, created_at, "
                    "status_changed_at) VALUES (:e, :n, 'active', 'cli', :t, :t)"
                ),
                {"e": email, "n": name, "t": "2026-01-01"},
            )
    cells = {r[0]: r[1] for r in _exported(engine)[1:]}
    assert cells == {
        "blank@example.com": "'=1+1",
        "tab@example.com": "'=1+1",
        "broken@example.com": 'Ann =HYPERLINK("http://evil.example")',
        "escape@example.com": "Eve",
        "soh@example.com": "Sohl",
    }


def test_export_pages_through_the_list_and_filters_by_status(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_module, "PAGE_SIZE", 2)
    with session_scope(engine) as session:
        for i in range(5):
            add_subscriber(session, f"p{i}@example.com", source=Source.CLI, confirmed=i != 2)
    with session_scope(engine) as session:
        everyone = _exported(session)
    assert [r[0] for r in everyone[1:]] == [f"p{i}@example.com" for i in range(5)]
    pending = _exported(engine, status=Status.PENDING)
    assert [r[0] for r in pending[1:]] == ["p2@example.com"]
    with engine.connect() as conn:
        assert len(_exported(conn, status=Status.ACTIVE)) == 5
        assert _exported(conn, status=Status.BOUNCED) == [everyone[0]]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        (" =1+1", "' =1+1"),  # a blank before the sign
        ("\t=1+1", "'\t'=1+1"),  # a tab is a separator too
        ("Mal;=1+2;", "Mal;'=1+2;"),  # after a separator: Excel in a ';' locale
        ("Mal; \u00a0+1", "Mal;' \u00a0+1"),  # blanks, then a sign
        ("a,\uff1d1|-2", "a,'\uff1d1|'-2"),
        ("Rock,'n roll", "Rock,''n roll"),
        ("Lovelace, Ada", "Lovelace, Ada"),  # a blank alone after a separator: no mark
        ("a;;b,", "a;;b,"),
        ("\r=1+1", "\r'=1+1"),  # a CR is a line break: what follows it is a line
        ("\u00a0@SUM(A1)", "'\u00a0@SUM(A1)"),
        ("\ufeff=1", "'\ufeff=1"),
        ("\uff1d1+1", "'\uff1d1+1"),  # full-width equals
        ("\uff20SUM(A1)", "'\uff20SUM(A1)"),
        ("\u22121", "'\u22121"),  # minus sign
        ("Ann\n=1+1", "Ann\n'=1+1"),  # after a line break inside the cell
        ("Ann\r\n -2", "Ann\r\n' -2"),
        ("Ann\u2028+3", "Ann\u2028'+3"),
        ("Ann\n'quoted", "Ann\n''quoted"),
        ("Ann Lee", "Ann Lee"),
        ("O'Neil", "O'Neil"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_each_place_a_formula_could_start_gets_a_mark(value: str, cell: str) -> None:
    assert neutralize_cell(value) == cell
    assert restore_cell(cell) == value


@given(st.text())
def test_neutralised_cells_never_start_a_formula_and_restore_exactly(value: str) -> None:
    cell = neutralize_cell(value)
    assert not _runs_somewhere(cell)
    assert restore_cell(cell) == value
    ordinary = not any(
        line[:1] == "'" or _blank(line[:1] or "x") or _could_start_a_formula(line)
        for line in _lines(value)
    ) and not any(
        part[:1] == "'" or _could_start_a_formula(part)
        for line in _lines(value)
        for part in _after_separators(line)
    )
    if ordinary:
        assert cell == value  # ordinary text is left alone


@given(st.text(alphabet=st.characters(blacklist_characters=LINE_BREAKS + ",;\t|")))
def test_neutralised_one_line_cells_differ_by_one_leading_mark_at_most(value: str) -> None:
    cell = neutralize_cell(value)
    assert cell in (value, "'" + value)


@given(st.text(alphabet=st.sampled_from([*",;\t| '=+-@xA\u00a0\uff1d"])))
def test_a_mark_is_added_only_where_a_cell_could_start(value: str) -> None:
    """Split where a spreadsheet could split it, the cell is the value's texts, each as it
    is or after one `'`: nothing else changes."""
    cell = neutralize_cell(value)
    written = re.split("([,;\t|])", value)
    marked = re.split("([,;\t|])", cell)
    assert len(marked) == len(written)
    assert all(m in (w, "'" + w) for w, m in zip(written, marked, strict=True))
    assert restore_cell(cell) == value


@given(st.lists(st.text(), min_size=1, max_size=5))
def test_neutralised_rows_survive_a_csv_round_trip(values: list[str]) -> None:
    out = io.StringIO(newline="")
    csv.writer(out).writerow([neutralize_cell(v) for v in values])
    (row,) = csv.reader(io.StringIO(out.getvalue(), newline=""))
    assert [restore_cell(cell) for cell in row] == values


_ATEXT = st.sampled_from([*"abcXYZ019!#$%&'*+-/=?^_`{|}~.", "\uff1d", "\uff0b", "\uff0d", "\u00e9"])


@given(st.text(_ATEXT, min_size=1, max_size=20))
def test_an_exported_address_reads_back_as_itself_and_never_starts_a_formula(
    local: str,
) -> None:
    address = f"{local}@example.com"
    cell = address_cell(address)
    assert not _could_start_a_formula(cell)
    assert address_of(trim(cell)) == address
    assert cell in (address, f"<{address}>")
