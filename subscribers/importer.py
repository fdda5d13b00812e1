"""CSV import: every row validated, good rows in whatever the bad ones are, memory flat.

The file is streamed and handled in batches, one transaction each (a failure loses at most
the batch in flight, and a re-run skips what is already in). Nothing grows with the file:
duplicates within the file are found through a TEMPORARY table of (address, first line) on
the import's own connection, not a Python set, and bad rows go to a callback as they are
found; the report keeps counts and only the first BAD_ROWS_KEPT of them.

Line numbers are physical lines (the header is line 1), taken from the csv reader, so a
quoted field spanning lines does not shift the lines reported after it.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, insert, select

from newsletter.core.clock import utcnow
from newsletter.core.sql import insert_ignoring_conflicts, table_of
from subscribers.addresses import (
    InvalidAddress,
    InvalidName,
    normalize_email,
    normalize_name,
    normalized_hash,
)
from subscribers.errors import (
    InvalidSubscriberInput,
)
from subscribers.export import COLUMNS as EXPORT_COLUMNS
from subscribers.export import restore_cell
from subscribers.models import (
    SUPPRESSED,
    ForgottenAddress,
    Source,
    Status,
    StatusChange,
    Subscriber,
)
from subscribers.status import first_change_row, first_status_fields

BAD_ROWS_KEPT = 1000
KNOWN_COLUMNS = frozenset({"email", "name"})
IGNORED_COLUMNS = frozenset(EXPORT_COLUMNS) | {"id"}  # an export imports without warnings
_IN_CHUNK = 500  # bound parameters per IN (...), far below SQLite's limit
_SEEN = "subscriber_import_seen"
_TEMP_SCHEMA = {"sqlite": "temp", "postgresql": "pg_temp"}
_UTF8_CHUNK = 1 << 20


@dataclass(frozen=True)
class BadRow:
    label: str
    line: int
    email: str  # the cell as written (empty when missing)
    reason: str

    def __str__(self) -> str:
        return f"{self.label}:{self.line}: {_shown(self.email)}: {self.reason}"


@dataclass
class ImportReport:
    label: str
    rows: int = 0  # data rows read (blank lines are not rows)
    imported: int = 0
    unchanged: int = 0  # already on the list (pending, active or unsubscribed)
    bad: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)  # the first BAD_ROWS_KEPT
    warnings: list[str] = field(default_factory=list)


class ImportFailed(InvalidSubscriberInput):
    """The file cannot be read (from some line on): the message names the place. Batches
    before that line are committed; `report` says what they did."""

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report


def _shown(value: str) -> str:
    """A cell as one printable line of a report."""
    if not value:
        return "(no email)"
    text = value if value.isprintable() else repr(value)
    return text if len(text) <= 120 else text[:119] + "…"


@dataclass(frozen=True)
class _Row:
    line: int
    email: str  # normalised
    name: str | None
    raw: str


def check_utf8(path: Path, label: str | None = None) -> None:
    """Refuse a file that is not UTF-8 before anything is imported, naming the line."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 0
    with path.open("rb") as stream:
        while True:
            chunk = stream.read(_UTF8_CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                line = lines + exc.object[: exc.start].count(b"\n") + 1
                raise ImportFailed(
                    f"{label or path}:{line}: not UTF-8 ({exc.reason} at byte "
                    f"0x{exc.object[exc.start]:02x}); save the file as UTF-8 CSV",
                    ImportReport(label or str(path)),
                ) from None
            if not chunk:
                return
            lines += chunk.count(b"\n")


def import_csv(
    engine: Engine,
    stream: TextIO,
    *,
    confirmed: bool,
    source: Source = Source.IMPORT,
    batch_size: int = 1000,
    on_bad_row: Callable[[BadRow], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    label: str = "file",
) -> ImportReport:
    """Import a CSV with a header naming an `email` column (any case) and maybe `name`.

    New addresses become active if `confirmed`, else pending. Addresses already on the list
    are left as they are (counted `unchanged`), so re-running a file changes nothing and an
    import never revives an unsubscribed, bounced or complained address. Bad rows are
    reported (callback and report), never fatal; ImportFailed means the file itself could
    not be read.
    """
    if batch_size < 1:
        raise InvalidSubscriberInput("batch size must be at least 1")
    job = _Import(engine, confirmed, source, batch_size, on_bad_row, on_progress, label)
    return job.run(stream)


class _Import:
    def __init__(
        self,
        engine: Engine,
        confirmed: bool,
        source: Source,
        batch_size: int,
        on_bad_row: Callable[[BadRow], None] | None,
        on_progress: Callable[[int], None] | None,
        label: str,
    ) -> None:
        self.engine = engine
        self.status = Status.ACTIVE if confirmed else Status.PENDING
        self.source = Source(source)
        self.reason = f"imported from {label[-200:]}" + (", as confirmed" if confirmed else "")
        self.batch_size = batch_size
        self.on_bad_row = on_bad_row
        self.on_progress = on_progress
        self.label = label
        self.report = ImportReport(label)
        self.dialect = engine.dialect.name
        self.subscriber = table_of(Subscriber)
        self.history = table_of(StatusChange)
        self.forgotten = table_of(ForgottenAddress)
        self.seen = Table(
            _SEEN,
            MetaData(),
            Column("email", String(320), primary_key=True),
            Column("line", Integer, nullable=False),
            schema=_TEMP_SCHEMA.get(self.dialect),
        )
        self.insert = insert_ignoring_conflicts(self.dialect, self.subscriber).returning(
            self.subscriber.c.id, self.subscriber.c.email
        )

    # -- the file ----------------------------------------------------------------------

    def run(self, stream: TextIO) -> ImportReport:
        reader = csv.reader(stream)
        email_at, name_at, width = self._header(reader)
        with self.engine.connect() as conn:
            # BEGIN IMMEDIATE on SQLite (newsletter.core.database's hook): each batch reads,
            # then writes; PostgreSQL ignores the option.
            conn.execution_options(sqlite_begin="IMMEDIATE")
            self._create_seen(conn)
            try:
                self._rows(conn, reader, email_at, name_at, width)
            finally:
                self._drop_seen(conn)
        return self.report

    def _header(self, reader: Any) -> tuple[int, int | None, int]:
        try:
            header: list[str] = next(reader)
            while not header:  # leading blank lines
                header = next(reader)
        except StopIteration:
            raise self._failed(
                f"{self.label}: the file is empty; the first line must name the columns, "
                "e.g. email,name"
            ) from None
        except UnicodeDecodeError as exc:
            raise self._failed(f"{self.label}:1: not UTF-8 ({exc.reason})") from None
        except csv.Error as exc:
            raise self._failed(f"{self.label}:{reader.line_num}: {exc}") from None
        line = reader.line_num
        names = [cell.strip().lstrip("\ufeff").strip().lower() for cell in header]
        if "email" not in names:
            shown = ",".join(header)
            hint = (
                " (is it separated by ';' or tabs? use commas)"
                if ";" in shown or "\t" in shown
                else "; the first line must name the columns, e.g. email,name"
            )
            raise self._failed(
                f"{self.label}:{line}: no 'email' column in the header {shown[:200]!r}{hint}"
            )
        for column in ("email", "name"):
            if names.count(column) > 1:
                raise self._failed(f"{self.label}:{line}: the header has two '{column}' columns")
        unknown = [n for n in names if n not in KNOWN_COLUMNS | IGNORED_COLUMNS]
        if unknown:
            listed = ", ".join(repr(n) for n in unknown)
            self.report.warnings.append(
                f"{self.label}:{line}: unknown column(s) {listed} ignored (known: email, name)"
            )
        name_at = names.index("name") if "name" in names else None
        return names.index("email"), name_at, len(names)

    def _rows(
        self, conn: Connection, reader: Any, email_at: int, name_at: int | None, width: int
    ) -> None:
        batch: list[_Row] = []
        bad: list[BadRow] = []
        first_line: dict[str, int] = {}  # this batch only
        previous = reader.line_num
        while True:
            try:
                cells: list[str] = next(reader)
            except StopIteration:
                break
            except (csv.Error, UnicodeDecodeError) as exc:
                self._flush(conn, batch, bad)
                problem = (
                    f"not UTF-8 ({exc.reason})"
                    if isinstance(exc, UnicodeDecodeError)
                    else f"{exc} (an unclosed quote?)"
                )
                raise self._failed(
                    f"{self.label}:{previous + 1}: {problem}; the rows before it were "
                    f"processed ({self.report.imported} imported)"
                ) from None
            start, end, previous = previous + 1, reader.line_num, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, and the empty rows spreadsheets leave at the end
            self.report.rows += 1
            row = self._parse(cells, start, end, email_at, name_at, width, bad)
            if row is not None:
                first = first_line.get(row.email)
                if first is not None:
                    bad.append(
                        self._bad(row.line, row.raw, f"duplicate in file (first on line {first})")
                    )
                else:
                    first_line[row.email] = row.line
                    batch.append(row)
            if len(batch) >= self.batch_size:
                self._flush(conn, batch, bad)
                batch, bad, first_line = [], [], {}
        self._flush(conn, batch, bad)

    def _parse(
        self,
        cells: Sequence[str],
        start: int,
        end: int,
        email_at: int,
        name_at: int | None,
        width: int,
        bad: list[BadRow],
    ) -> _Row | None:
        raw = restore_cell(cells[email_at].strip()) if email_at < len(cells) else ""
        if not raw:
            bad.append(self._bad(start, "", "missing email"))
            return None
        if len(cells) > width and any(cell.strip() for cell in cells[width:]):
            bad.append(
                self._bad(
                    start,
                    raw,
                    f"{len(cells)} fields where the header has {width} "
                    "(quote a field that contains a comma)",
                )
            )
            return None
        try:
            email = normalize_email(raw)
        except InvalidAddress as exc:
            bad.append(self._bad(start, raw, str(exc)))
            return None
        name_cell = cells[name_at] if name_at is not None and name_at < len(cells) else ""
        try:
            name = normalize_name(restore_cell(name_cell.strip()))
        except InvalidName as exc:
            spans = f" (the row runs from line {start} to {end}: an unclosed quote?)"
            bad.append(self._bad(start, raw, str(exc) + (spans if end > start else "")))
            return None
        return _Row(start, email, name, raw)

    # -- the database ------------------------------------------------------------------

    def _flush(self, conn: Connection, batch: list[_Row], bad: list[BadRow]) -> None:
        """One transaction: classify the batch against the list, insert the new rows."""
        if batch:
            with conn.begin():
                if self.dialect == "postgresql":
                    # psycopg prepares a statement run five times, and PostgreSQL may then
                    # keep a generic plan made while the table was small: sequential scans
                    # that made a 100,000-row import 20 times slower. Plan every batch anew.
                    conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
                self._store(conn, batch, bad)
        for row in sorted(bad, key=lambda b: b.line):
            self.report.bad += 1
            if len(self.report.bad_rows) < BAD_ROWS_KEPT:
                self.report.bad_rows.append(row)
            if self.on_bad_row is not None:
                self.on_bad_row(row)
        if self.on_progress is not None:
            self.on_progress(self.report.rows)

    def _store(self, conn: Connection, batch: list[_Row], bad: list[BadRow]) -> None:
        seen, sub = self.seen, self.subscriber
        earlier = dict(self._select_in(conn, [seen.c.email, seen.c.line], seen.c.email, batch))
        fresh: list[_Row] = []
        for row in batch:
            first = earlier.get(row.email)
            if first is not None:
                bad.append(
                    self._bad(row.line, row.raw, f"duplicate in file (first on line {first})")
                )
            else:
                fresh.append(row)
        if not fresh:
            return
        conn.execute(insert(seen), [{"email": r.email, "line": r.line} for r in fresh])
        statuses = dict(self._select_in(conn, [sub.c.email, sub.c.status], sub.c.email, fresh))
        hashes = {r.email: normalized_hash(r.email) for r in fresh if r.email not in statuses}
        tombstones = {
            h
            for (h,) in self._select_in(
                conn, [self.forgotten.c.email_hash], self.forgotten.c.email_hash, hashes.values()
            )
        }
        new: list[_Row] = []
        for row in fresh:
            status = statuses.get(row.email)
            if status in SUPPRESSED:
                reason = f"suppressed: already on the list as {status}, never mailed again"
                bad.append(self._bad(row.line, row.raw, reason))
            elif status is not None:
                self.report.unchanged += 1
            elif hashes[row.email] in tombstones:
                reason = "forgotten (GDPR erasure): cannot be re-added by import"
                bad.append(self._bad(row.line, row.raw, reason))
            else:
                new.append(row)
        if not new:
            return
        at = utcnow()
        fields = first_status_fields(self.status, reason=self.reason, at=at)
        source = self.source.value
        params = [{"email": r.email, "name": r.name, "source": source, **fields} for r in new]
        inserted = conn.execute(self.insert, params).all()
        # A row missing from RETURNING was added by someone else since the SELECT.
        self.report.imported += len(inserted)
        self.report.unchanged += len(new) - len(inserted)
        if inserted:
            history = [
                first_change_row(sid, self.status, reason=self.reason, source=self.source, at=at)
                for sid, _ in inserted
            ]
            conn.execute(insert(self.history), history)

    def _select_in(
        self, conn: Connection, columns: list[Any], key: Any, values: Iterable[Any]
    ) -> list[tuple[Any, ...]]:
        keys = [v.email if isinstance(v, _Row) else v for v in values]
        found: list[tuple[Any, ...]] = []
        for i in range(0, len(keys), _IN_CHUNK):
            query = select(*columns).where(key.in_(keys[i : i + _IN_CHUNK]))
            found.extend(tuple(row) for row in conn.execute(query))
        return found

    def _create_seen(self, conn: Connection) -> None:
        with conn.begin():
            self._drop_statement(conn)
            self.seen.create(conn)

    def _drop_seen(self, conn: Connection) -> None:
        try:
            if conn.in_transaction():
                conn.rollback()
            with conn.begin():
                self._drop_statement(conn)
        except Exception:
            # The connection is broken or busy: discard it (and the temp table with it)
            # rather than hide the error that brought us here.
            conn.invalidate()

    def _drop_statement(self, conn: Connection) -> None:
        schema = _TEMP_SCHEMA.get(self.dialect)
        qualified = f"{schema}.{_SEEN}" if schema else _SEEN
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {qualified}")

    # -- reports -----------------------------------------------------------------------

    def _bad(self, line: int, raw: str, reason: str) -> BadRow:
        return BadRow(self.label, line, raw, reason)

    def _failed(self, message: str) -> ImportFailed:
        return ImportFailed(message, self.report)
