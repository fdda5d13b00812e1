"""The list as CSV, streamed page by page, safe to open in a spreadsheet.

Where a spreadsheet starts a formula (CSV injection; OWASP's "CSV Injection" page):

- Excel, LibreOffice Calc and Google Sheets read a cell as a formula when it begins with
  `=`, `+`, `-` or `@` (`=HYPERLINK(…)`, Sheets' `=IMPORTXML(…)`, Excel's DDE
  `=cmd|' /C calc'!A0`, the Lotus form `@SUM(…)`); OWASP lists a cell beginning with a
  tab or a carriage return as well.
- Treated as starts too, erring on the side of a mark: any blank before such a sign
  (whitespace, control and invisible format characters, which a spreadsheet, an
  autocorrection or the person pasting may drop), and the compatibility forms of the
  signs, found by NFKC folding: the full-width signs (U+FF1D, U+FF0B, U+FF0D, U+FF20),
  which an East Asian input method or autocorrection may turn into the ASCII sign, the
  small forms (U+FE66, U+FE62, U+FE63, U+FE6B), the superscript and subscript signs; and
  the minus sign U+2212.
- Each line of a cell, not only its first: a cell may hold a line break (quoted, as CSV
  allows), and a tool that splits the file on line breaks without honouring quotes sees
  what follows as the start of a new cell. A line break is whatever Python's
  `str.splitlines` splits on (CR, LF, VT, FF, the file, group and record separators, NEL,
  U+2028, U+2029).
- Each text after a separator: Excel splits a .csv on the list separator of its locale,
  `;` where the decimal mark is a comma (so `Mal;=1+2;`, written unquoted, gives a cell
  `=1+2`), and a person opening the file may choose `,`, `;`, a tab or `|`. There a sign
  after any blanks starts a formula; a blank alone is no mark (`Lovelace, Ada` is common
  and harmless).

The rule: every line of a cell that begins with a blank, with one of those signs, or with
a `'`, and every text after a `,`, `;`, tab or `|` that begins with a `'` or with blanks
and a sign, gets a leading `'` (the spreadsheets' "this is text" mark: `Mal;'=1+2;`);
`restore_cell` drops a leading `'` from each line and from each text after a separator,
so the two are exact inverses (property tests hold them so). A few harmless names gain a
`'` they did not need, and lose it again on import; a name typed by hand with a `'` right
after a separator (`Rock,'n roll`) loses it on import.

Names are written clean (`addresses.clean_name`: a name stored by older code with control
characters comes out as every part of the service now shows it) and marked as above; the
importer drops the `'`.

Addresses are never marked with `'`: a `'` is part of an address (`'lead@example.com` is a
mailbox of its own), so the importer takes one as written. An address that a spreadsheet
would read as a formula (`=x@example.com`, `-x@example.com` and the same with a full-width
sign are valid) is written in angle brackets, `<-x@example.com>`, which a spreadsheet
shows as text and the importer reads as the address inside, as mail headers write one.
(Of the separators only `|` can be in an address, `x|=1@example.com`; it is written as it
is, since no mark could be removed again: only a person choosing `|` to split the file on
would see a formula there.)
An exported file imports back to the same addresses and names.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Final, TextIO

from sqlalchemy import Connection, Engine, select
from sqlmodel import Session

from newsletter.core.sql import table_of
from subscribers.addresses import clean_name
from subscribers.models import Status, Subscriber

COLUMNS = ("email", "name", "status", "source", "created_at", "confirmed_at", "unsubscribed_at")
PAGE_SIZE = 1000
FORMULA_SIGNS: Final = frozenset("=+-@\u2212")
"""What a line of a cell may not begin with (after NFKC folding), nor have after a blank."""
_TEXT_MARK: Final = "'"
_LINE_BREAK: Final = re.compile("(\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029])")
_BLANK_CATEGORIES: Final = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})
_SEPARATOR: Final = re.compile("([,;\t|])")
"""Where a spreadsheet may split a line into cells: the list separator (`,`, or `;` where
the decimal mark is a comma), a tab, or a `|` a person chose when opening the file."""


def starts_formula(line: str) -> bool:
    """Whether a spreadsheet could read a line of a cell as the start of a formula: it
    begins with a formula sign (in any compatibility form) or with a blank (whatever a
    blank precedes, a spreadsheet may drop it and look at what follows)."""
    if not line:
        return False
    first = line[0]
    if first.isspace() or unicodedata.category(first) in _BLANK_CATEGORIES:
        return True
    return first in FORMULA_SIGNS or unicodedata.normalize("NFKC", first)[:1] in FORMULA_SIGNS


def _marked(line: str) -> bool:
    return line.startswith(_TEXT_MARK) or starts_formula(line)


def _marked_after_separator(part: str) -> bool:
    """Whether the text after a separator could start a formula where a spreadsheet splits
    cells on that separator: a formula sign after any blanks (a blank alone is no mark
    here: `Lovelace, Ada` stays as it is), or a `'`."""
    if part.startswith(_TEXT_MARK):
        return True
    for char in part:
        if not (char.isspace() or unicodedata.category(char) in _BLANK_CATEGORIES):
            return starts_formula(char)
    return False


def _neutralize_line(line: str) -> str:
    if _SEPARATOR.search(line) is None:
        return _TEXT_MARK + line if _marked(line) else line
    parts = _SEPARATOR.split(line)  # text at even places, separators at odd ones
    marked: list[str] = []
    for i, part in enumerate(parts):
        mark = _marked(line) if i == 0 else i % 2 == 0 and _marked_after_separator(part)
        marked.append(_TEXT_MARK + part if mark else part)
    return "".join(marked)


def _restore_line(line: str) -> str:
    parts = _SEPARATOR.split(line)
    return "".join(
        p[1:] if i % 2 == 0 and p.startswith(_TEXT_MARK) else p for i, p in enumerate(parts)
    )


def neutralize_cell(value: str) -> str:
    """The cell as a spreadsheet shows it as text, never as a formula: each line that
    could start one (or that begins with `'`), and each text after a separator that could
    (or that begins with `'`), gets a leading `'`."""
    if _LINE_BREAK.search(value) is None:
        return _neutralize_line(value)
    parts = _LINE_BREAK.split(value)  # lines at even places, line breaks at odd ones
    return "".join(_neutralize_line(p) if i % 2 == 0 else p for i, p in enumerate(parts))


def restore_cell(value: str) -> str:
    """The inverse of `neutralize_cell`: drops one leading `'` from each line and from each
    text after a separator (a spreadsheet's "this is text" mark; used for names, never for
    addresses)."""
    if _LINE_BREAK.search(value) is None:
        return _restore_line(value)
    parts = _LINE_BREAK.split(value)
    return "".join(_restore_line(p) if i % 2 == 0 else p for i, p in enumerate(parts))


def address_cell(value: str) -> str:
    """An address as the export writes it: as it is, or in angle brackets if a spreadsheet
    could read it as a formula. (Text of several lines is no address: a row stored by
    older code; it is marked like any cell.)"""
    if _LINE_BREAK.search(value) is not None:
        return neutralize_cell(value)
    return f"<{value}>" if starts_formula(value) else value


def name_cell(value: str | None) -> str:
    """A name as the export writes it: clean, and marked if it could start a formula."""
    return neutralize_cell(clean_name(value) or "")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return neutralize_cell(str(value))


_WRITERS: Final[tuple[Callable[[Any], str], ...]] = (
    address_cell,
    name_cell,
    *([_cell] * (len(COLUMNS) - 2)),
)


def export_csv(
    source: Session | Engine | Connection, out: TextIO, *, status: Status | None = None
) -> int:
    """Write the header and every subscriber (of `status`, if given) in id order; returns the
    number of rows. Pages of PAGE_SIZE by id keep memory flat whatever the list's size."""
    if isinstance(source, Engine):
        with source.connect() as conn:
            return _export(conn, out, status)
    if isinstance(source, Session):
        return _export(source.connection(), out, status)
    return _export(source, out, status)


def _export(conn: Connection, out: TextIO, status: Status | None) -> int:
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    written = 0
    for row in _rows(conn, status):
        writer.writerow(_cells(row))
        written += 1
    return written


def _cells(row: tuple[Any, ...]) -> list[str]:
    return [write(value) for write, value in zip(_WRITERS, row, strict=True)]


def export_chunks(source: Engine, *, status: Status | None = None) -> Iterator[str]:
    """The same file as `export_csv`, as text chunks of one page (PAGE_SIZE rows) each, for
    a download streamed while it is read: the connection is held until the last chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    with source.connect() as conn:
        for count, row in enumerate(_rows(conn, status), start=1):
            writer.writerow(_cells(row))
            if count % PAGE_SIZE == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def _rows(conn: Connection, status: Status | None) -> Iterator[tuple[Any, ...]]:
    table = table_of(Subscriber)
    columns = [table.c[name] for name in COLUMNS]
    after = 0
    while True:
        query = select(table.c.id, *columns).where(table.c.id > after)
        if status is not None:
            query = query.where(table.c.status == Status(status).value)
        page = conn.execute(query.order_by(table.c.id).limit(PAGE_SIZE)).all()
        for row in page:
            yield tuple(row[1:])
        if len(page) < PAGE_SIZE:
            return
        after = page[-1][0]
