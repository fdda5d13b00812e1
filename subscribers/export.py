"""The list as CSV, streamed page by page, safe to open in a spreadsheet.

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets (CSV injection), and names and even addresses
(`-x@example.com` is valid) can begin that way. Such a cell gets a leading `'`. A cell that
already begins with `'` gets one too, so that `restore_cell` (used by the importer) undoes the
prefix exactly and an exported file imports back to the same addresses and names.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import Connection, Engine, select
from sqlmodel import Session

from newsletter.core.sql import table_of
from subscribers.models import Status, Subscriber

COLUMNS = ("email", "name", "status", "source", "created_at", "confirmed_at", "unsubscribed_at")
PAGE_SIZE = 1000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PREFIX = "'"


def neutralize_cell(value: str) -> str:
    """The cell as a spreadsheet shows it as text, never as a formula."""
    if value.startswith((*FORMULA_STARTS, _PREFIX)):
        return _PREFIX + value
    return value


def restore_cell(value: str) -> str:
    """The inverse of `neutralize_cell`: drops one leading `'` (a spreadsheet's "this is
    text" mark, never part of a name; on an address it would only come from an export)."""
    return value[1:] if value.startswith(_PREFIX) else value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return neutralize_cell(str(value))


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
        writer.writerow([_cell(value) for value in row])
        written += 1
    return written


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
