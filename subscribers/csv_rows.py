"""Reading an import's CSV: the columns its header names, and each row cleaned once (the
address normalised, the name cleaned) or turned into a bad row that names its line.

The rules (the README's import section says the same to operators):

- **The header** is the first line that is not blank. Its separator is found from it: a
  comma, or else the one of `;`, a tab or `|` that makes it name an `email` column (a
  spreadsheet saving "CSV" in a locale with decimal commas writes `;`). A header naming no
  `email` column whichever way it is read imports nothing.
- **A row is one line.** A quoted field may hold a line break (a spreadsheet cell written
  on several lines): such a row is read whole if its address is on one line, it has no
  more cells than the header names, and none of its later lines reads as a row of its own
  with a valid address. A later line is read as a row on its own, except the line where
  the open cell closes (a `"` before a separator or the line's end): only the cells wholly
  before that `"` count there. So `Lovelace",ada@example.com` is the cell's end (the
  address after the `"` is the row's own), as is `bob@elsewhere.example"` (the address is
  in the cell the `"` closes), but `b@example.com,Screen 27"` is a row that an unclosed
  quote swallowed. A note line that holds an address and more cells, `x@example.com,n"`,
  reads exactly like such a row and cannot be told from one: it is reported too (a report
  the operator can check rather than a row silently merged into the name above it).
  Otherwise the row is an unclosed quote that swallowed the rows after it: it is reported
  with its first and last line and not imported, and its later lines are read again as
  CSV (a row on several lines among them reads whole). A record that begins with a line
  read again and is an unclosed quote too is not read again a third time: each of its
  lines is read on its own (a quote opened in one ends with its line). So no line is read
  more than three times, whatever the file.
- **A record is bounded**: past 1,000 lines or 1,048,576 characters (`csv_lines`), or
  with a field over csv's 128 KiB limit, it is reported as unreadable from its first
  line, and its later lines are read again as above.
- **Cells** lose the whitespace and byte order marks around them (a BOM comes from an
  editor, or from files joined end to end; it is never part of a value and never shown in
  a message).
- **An address is taken as written**: a leading `'` is part of it (`'lead@example.com` is a
  valid, different mailbox). An address in angle brackets, `<ada@example.com>` (how mail
  headers write one, and how the export writes an address that a spreadsheet would read as
  a formula) is the address inside them.
- **A name** loses one leading `'` from each line and from the text after each `,`, `;`,
  tab or `|` (a spreadsheet's "this is text" mark, which the export adds wherever a
  spreadsheet could start a formula: `export.restore_cell`) and is then cleaned like
  every name (`addresses.normalize_name`: control characters, NUL and escape sequences removed).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, TextIO

from subscribers.addresses import InvalidAddress, InvalidName, normalize_email, normalize_name
from subscribers.csv_lines import Lines, Record, Unreadable, records
from subscribers.export import COLUMNS as EXPORT_COLUMNS
from subscribers.export import restore_cell
from subscribers.import_report import BadRow, ImportFailed, ImportReport

KNOWN_COLUMNS = frozenset({"email", "name"})
IGNORED_COLUMNS = frozenset(EXPORT_COLUMNS) | {"id"}  # an export imports without warnings
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}  # in order
_BOM = "\ufeff"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Columns:
    """Where the header put the cells that are read, how many cells it names, and the
    separator it was read with."""

    email_at: int
    name_at: int | None
    width: int
    delimiter: str = ","


@dataclass(frozen=True)
class CsvRow:
    line: int
    email: str  # normalised
    name: str | None
    raw: str  # the email cell as written


_AROUND: Final = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000" + _BOM
)
"""Every character `str.strip()` removes (those of `str.isspace`), and the byte order mark."""


def trim(cell: str) -> str:
    """A cell without the whitespace and byte order marks around it (in any mixture)."""
    return cell.strip(_AROUND)


def address_of(cell: str) -> str:
    """The address a trimmed cell holds: as written, or inside its angle brackets."""
    if len(cell) > 2 and cell[0] == "<" and cell[-1] == ">":
        return cell[1:-1].strip()
    return cell


def _cells(line: str, delimiter: str) -> list[str]:
    """One physical line read as a record on its own (an open quote ends with the line)."""
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return []


class CsvFile:
    """An import's file: the header read when it is opened, then `rows()`."""

    def __init__(self, stream: TextIO, report: ImportReport) -> None:
        self.lines = Lines(stream)
        self.report = report
        self.label = report.label
        self.columns = self._header()

    def _header(self) -> Columns:
        """The columns the header names. ImportFailed when the file has no usable header; a
        warning in the report for each column that is ignored."""
        label = self.label
        try:
            line = self._next_line()
            while not trim(line):  # leading blank lines
                line = self._next_line()
        except StopIteration:
            raise ImportFailed(
                f"{label}: the file is empty; the first line must name the columns, "
                "e.g. email,name",
                self.report,
            ) from None
        except UnicodeDecodeError as exc:
            raise ImportFailed(
                f"{label}:{self.lines.next_number}: not UTF-8 ({exc.reason})", self.report
            ) from None
        number = self.lines.taken[-1][0]
        for delimiter in DELIMITERS:
            names = [trim(cell).lower() for cell in _cells(line, delimiter)]
            if "email" in names:
                return self._columns(names, number, delimiter)
        shown = _LINE_BREAK.sub(" ", line).strip()
        hint = (
            " (the file holds NUL bytes: is it UTF-16? save it as UTF-8 CSV)"
            if "\x00" in line
            else "; the first line must name the columns, e.g. email,name"
        )
        raise ImportFailed(
            f"{label}:{number}: no 'email' column in the header {shown[:200]!r}{hint}",
            self.report,
        )

    def _next_line(self) -> str:
        self.lines.start_record()  # (a line on its own: no record's bound applies)
        return next(self.lines).lstrip(_BOM)

    def _columns(self, names: list[str], number: int, delimiter: str) -> Columns:
        where = f"{self.label}:{number}"
        for column in ("email", "name"):
            if names.count(column) > 1:
                raise ImportFailed(f"{where}: the header has two '{column}' columns", self.report)
        unknown = [n for n in names if n not in KNOWN_COLUMNS | IGNORED_COLUMNS]
        if unknown:
            listed = ", ".join(repr(n) for n in unknown)
            self.report.warnings.append(
                f"{where}: unknown column(s) {listed} ignored (known: email, name)"
            )
        name_at = names.index("name") if "name" in names else None
        return Columns(names.index("email"), name_at, len(names), delimiter)

    def rows(self) -> Iterator[CsvRow | BadRow]:
        """Every data row, clean or bad, in the file's order; blank rows are not rows.
        UnicodeDecodeError passes through (the caller names the line).

        A record that swallowed the rows after it hands its later lines back to be read
        again; a record that begins with a line handed back (being read a second time) and
        is an unclosed quote as well hands nothing back: each of its lines is read on its
        own. So no line is read more than three times, whatever the file."""
        lines = self.lines
        for record in records(lines, self.columns.delimiter):
            again = lines.read_before(record.lines[0][0])
            if isinstance(record, Unreadable):
                if again:
                    yield from self._one_by_one(record.lines)
                else:
                    lines.read_again(record.lines[1:])
                    yield self._unreadable(record)
            elif len(record.lines) > 1 and self._runs_over(record):
                if again:
                    yield from self._one_by_one(record.lines)
                else:
                    lines.read_again(record.lines[1:])
                    yield self._swallowed(record)
            elif any(trim(cell) for cell in record.cells):
                yield parse_row(record.cells, record.first, record.last, self.columns, self.label)

    def _runs_over(self, record: Record) -> bool:
        """Whether a record of several lines is an unclosed quote: its address holds a line
        break, it has cells past the header's (a quote closed and opened again across
        lines), or one of its later lines is a row of its own with a valid address. A line
        that closes the open cell (`_closing_quote`) is such a row only if a whole cell
        before its closing `"` holds a valid address where the email column is
        (`b@example.com,Screen 27"`); the cells after that `"` are the record's own
        (`Lovelace",ada@example.com`: the record's address), and the cell the `"` closes
        is not a cell of that line (`bob@elsewhere.example"` ends a note)."""
        columns = self.columns
        cells = record.cells
        if columns.email_at < len(cells) and _LINE_BREAK.search(cells[columns.email_at].strip()):
            return True
        if any(trim(cell) for cell in cells[columns.width :]):
            return True
        for _, line in record.lines[1:]:
            closing = _closing_quote(line, columns.delimiter)
            if closing is None:
                line_cells = _cells(line, columns.delimiter)  # the line as a row on its own
            else:  # the cells wholly before the closing quote
                line_cells = _cells(line[:closing], columns.delimiter)[:-1]
            if columns.email_at < len(line_cells):
                try:
                    normalize_email(address_of(trim(line_cells[columns.email_at])))
                except InvalidAddress:
                    continue
                return True
        return False

    def _one_by_one(self, lines: list[tuple[int, str]]) -> Iterator[CsvRow | BadRow]:
        """Lines each read as a row on its own (a quote one opens ends with it)."""
        for number, line in lines:
            try:
                cells = next(csv.reader([line], delimiter=self.columns.delimiter), [])
            except csv.Error as exc:
                yield BadRow(self.label, number, "", _problem(str(exc)))
                continue
            if any(trim(cell) for cell in cells):
                yield parse_row(cells, number, number, self.columns, self.label)

    def _swallowed(self, record: Record) -> BadRow:
        first, last = record.first, record.last
        reason = (
            f"a quoted field runs from line {first} to line {last} (an unclosed quote?): "
            f"not imported; {_read_again(first, last)}"
        )
        return BadRow(self.label, first, self._first_email(record.lines[0][1]), reason)

    def _unreadable(self, record: Unreadable) -> BadRow:
        first, last = record.lines[0][0], record.lines[-1][0]
        problem = _problem(record.reason)
        if last == first:
            return BadRow(self.label, first, "", problem)
        reason = (
            f"{problem}: a quoted field runs from line {first} past line {last} "
            f"(an unclosed quote?): not imported; {_read_again(first, last)}"
        )
        return BadRow(self.label, first, self._first_email(record.lines[0][1]), reason)

    def _first_email(self, line: str) -> str:
        """The email cell of a row's first line, as written."""
        cells = _cells(line, self.columns.delimiter)
        email_at = self.columns.email_at
        return trim(cells[email_at]) if email_at < len(cells) else ""


def _problem(reason: str) -> str:
    """csv's reason in the report's words."""
    if reason.startswith("field larger than field limit"):
        return f"a field is longer than {csv.field_size_limit():,} characters"
    return reason


def _closing_quote(line: str, delimiter: str) -> int | None:
    """Where a line read inside an open quoted cell closes it the way a cell ends, if it
    does: the first `"` not doubled (`""` is a quote inside the cell) followed by the
    separator or the line's end. (A `"` followed by anything else is stray, as where a row
    of its own opens a quote: `b@example.com,"Bob"`.)"""
    at = line.find('"')
    while at != -1:
        end = at
        while end < len(line) and line[end] == '"':
            end += 1
        if (end - at) % 2:
            if end == len(line) or line[end] in (delimiter, "\r", "\n"):
                return end - 1
            return None
        at = line.find('"', end)
    return None


def _read_again(first: int, last: int) -> str:
    if last == first + 1:
        return f"line {last} is read again as a row"
    return f"lines {first + 1} to {last} are read again as rows"


def parse_row(
    cells: Sequence[str], start: int, end: int, columns: Columns, label: str
) -> CsvRow | BadRow:
    """One data row (physical lines `start` to `end`) as a clean row, or why it is bad."""
    email_at, name_at, width = columns.email_at, columns.name_at, columns.width
    raw = trim(cells[email_at]) if email_at < len(cells) else ""
    if not raw:
        return BadRow(label, start, "", "missing email")
    if len(cells) > width and any(trim(cell) for cell in cells[width:]):
        reason = (
            f"{len(cells)} fields where the header has {width} "
            f"(quote a field that contains a {DELIMITERS[columns.delimiter]})"
        )
        return BadRow(label, start, raw, reason)
    try:
        email = normalize_email(address_of(raw))
    except InvalidAddress as exc:
        return BadRow(label, start, raw, str(exc))
    name_cell = cells[name_at] if name_at is not None and name_at < len(cells) else ""
    try:
        cell = trim(name_cell)
        name = normalize_name(restore_cell(cell) if "'" in cell else cell)  # (' marks only)
    except InvalidName as exc:
        spans = f" (the row runs from line {start} to {end})" if end > start else ""
        return BadRow(label, start, raw, str(exc) + spans)
    return CsvRow(start, email, name, raw)
