"""Reading an import's CSV: the columns its header names, and each row cleaned once (the
address normalised, the name checked) or turned into a bad row that names its line."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from subscribers.addresses import InvalidAddress, InvalidName, normalize_email, normalize_name
from subscribers.export import COLUMNS as EXPORT_COLUMNS
from subscribers.export import restore_cell
from subscribers.import_report import BadRow, ImportFailed, ImportReport

KNOWN_COLUMNS = frozenset({"email", "name"})
IGNORED_COLUMNS = frozenset(EXPORT_COLUMNS) | {"id"}  # an export imports without warnings


@dataclass(frozen=True)
class Columns:
    """Where the header put the cells that are read, and how many cells it names."""

    email_at: int
    name_at: int | None
    width: int


@dataclass(frozen=True)
class CsvRow:
    line: int
    email: str  # normalised
    name: str | None
    raw: str  # the email cell as written


def read_header(reader: Any, report: ImportReport) -> Columns:
    """The columns the header names. ImportFailed when the file has no usable header; a
    warning in the report for each column that is ignored."""
    label = report.label
    try:
        header: list[str] = next(reader)
        while not header:  # leading blank lines
            header = next(reader)
    except StopIteration:
        raise ImportFailed(
            f"{label}: the file is empty; the first line must name the columns, e.g. email,name",
            report,
        ) from None
    except UnicodeDecodeError as exc:
        raise ImportFailed(f"{label}:1: not UTF-8 ({exc.reason})", report) from None
    except csv.Error as exc:
        raise ImportFailed(f"{label}:{reader.line_num}: {exc}", report) from None
    line = reader.line_num
    names = [cell.strip().lstrip("\ufeff").strip().lower() for cell in header]
    if "email" not in names:
        shown = ",".join(header)
        hint = (
            " (is it separated by ';' or tabs? use commas)"
            if ";" in shown or "\t" in shown
            else "; the first line must name the columns, e.g. email,name"
        )
        raise ImportFailed(
            f"{label}:{line}: no 'email' column in the header {shown[:200]!r}{hint}", report
        )
    for column in ("email", "name"):
        if names.count(column) > 1:
            raise ImportFailed(f"{label}:{line}: the header has two '{column}' columns", report)
    unknown = [n for n in names if n not in KNOWN_COLUMNS | IGNORED_COLUMNS]
    if unknown:
        listed = ", ".join(repr(n) for n in unknown)
        report.warnings.append(
            f"{label}:{line}: unknown column(s) {listed} ignored (known: email, name)"
        )
    name_at = names.index("name") if "name" in names else None
    return Columns(names.index("email"), name_at, len(names))


def parse_row(
    cells: Sequence[str], start: int, end: int, columns: Columns, label: str
) -> CsvRow | BadRow:
    """One data row (physical lines `start` to `end`) as a clean row, or why it is bad."""
    email_at, name_at, width = columns.email_at, columns.name_at, columns.width
    raw = restore_cell(cells[email_at].strip()) if email_at < len(cells) else ""
    if not raw:
        return BadRow(label, start, "", "missing email")
    if len(cells) > width and any(cell.strip() for cell in cells[width:]):
        reason = (
            f"{len(cells)} fields where the header has {width} "
            "(quote a field that contains a comma)"
        )
        return BadRow(label, start, raw, reason)
    try:
        email = normalize_email(raw)
    except InvalidAddress as exc:
        return BadRow(label, start, raw, str(exc))
    name_cell = cells[name_at] if name_at is not None and name_at < len(cells) else ""
    try:
        name = normalize_name(restore_cell(name_cell.strip()))
    except InvalidName as exc:
        spans = f" (the row runs from line {start} to {end}: an unclosed quote?)"
        return BadRow(label, start, raw, str(exc) + (spans if end > start else ""))
    return CsvRow(start, email, name, raw)
