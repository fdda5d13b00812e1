"""CSV import: every row validated, good rows in whatever the bad ones are, memory flat.

The file is streamed and handled in batches, one transaction each (a failure loses at most
the batch in flight, and a re-run skips what is already in). Nothing grows with the file:
duplicates within the file are found through a TEMPORARY table of (address, first line) on
the import's own connection, not a Python set, and bad rows go to a callback as they are
found; the report keeps counts and only the first BAD_ROWS_KEPT of them.

Modules: `csv_rows` reads the header and the rows (its docstring holds the rules of the
format: the separator, rows over several lines, addresses and names as written),
`csv_lines` numbers the physical lines under the csv reader, `import_reader` reads them
in a thread of its own a batch ahead of the writes, `import_store` writes each batch (with
the statements of `import_sql`), `import_report` holds what is reported.

Line numbers are physical lines (the header is line 1), so a quoted field spanning lines
does not shift the lines reported after it.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from sqlalchemy import Connection, Engine

from subscribers.csv_rows import CsvFile, CsvRow
from subscribers.errors import InvalidSubscriberInput
from subscribers.import_reader import BatchReader
from subscribers.import_report import BAD_ROWS_KEPT, BadRow, ImportFailed, ImportReport
from subscribers.import_store import BatchStore
from subscribers.models import Source, Status

__all__ = ["BAD_ROWS_KEPT", "BadRow", "ImportFailed", "ImportReport", "check_utf8", "import_csv"]

_UTF8_CHUNK = 1 << 20


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
    """One run over one file: rows read in batches, each batch stored in one transaction,
    bad rows reported as they are found."""

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
        self.batch_size = batch_size
        self.on_bad_row = on_bad_row
        self.on_progress = on_progress
        self.label = label
        self.report = ImportReport(label)
        status = Status.ACTIVE if confirmed else Status.PENDING
        reason = f"imported from {label[-200:]}" + (", as confirmed" if confirmed else "")
        self.store = BatchStore(engine.dialect.name, status, Source(source), reason, self.report)

    def run(self, stream: TextIO) -> ImportReport:
        csv_file = CsvFile(stream, self.report)  # the header: ImportFailed before any write
        with self.engine.connect() as conn:
            # BEGIN IMMEDIATE on SQLite (newsletter.core.database's hook): each batch reads,
            # then writes; PostgreSQL ignores the option.
            conn.execution_options(sqlite_begin="IMMEDIATE")
            self.store.create_seen(conn)
            try:
                self._rows(conn, csv_file)
            finally:
                self.store.drop_seen(conn)
        return self.report

    def _rows(self, conn: Connection, csv_file: CsvFile) -> None:
        with BatchReader(csv_file, self.batch_size, self.label) as reader:
            for batch in reader.batches():
                self.report.rows = batch.read
                self._flush(conn, batch.rows, batch.bad)
                if batch.failure is not None:
                    line, reason = batch.failure
                    raise ImportFailed(
                        f"{self.label}:{line}: not UTF-8 ({reason}); "
                        f"the rows before it were processed ({self.report.imported} imported)",
                        self.report,
                    )

    def _flush(self, conn: Connection, batch: list[CsvRow], bad: list[BadRow]) -> None:
        """One transaction: classify the batch against the list, insert the new rows."""
        if batch:
            with conn.begin():
                if self.engine.dialect.name == "postgresql":
                    # psycopg prepares a statement run five times, and PostgreSQL may then
                    # keep a generic plan made while the table was small: sequential scans
                    # that made a 100,000-row import 20 times slower. Plan every batch anew.
                    conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
                self.store.store(conn, batch, bad)
        for row in sorted(bad, key=lambda b: b.line):
            self.report.bad += 1
            if len(self.report.bad_rows) < BAD_ROWS_KEPT:
                self.report.bad_rows.append(row)
            if self.on_bad_row is not None:
                self.on_bad_row(row)
        if self.on_progress is not None:
            self.on_progress(self.report.rows)
