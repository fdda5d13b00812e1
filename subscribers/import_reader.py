"""An import's rows read and checked in a thread of their own, a batch or two ahead of the
writes: reading is Python (the csv module, the address and name checks) and holds the
interpreter; a write mostly waits for the database (SQLite's C code and PostgreSQL's
server process run without it). On two cores the one overlaps the other.

The writing thread (the caller's) keeps everything else: the transactions, the report and
the callbacks, in the file's order, so a callback that raises stops the import after the
batch in hand, as before. Batches wait in a queue of `AHEAD`, so memory stays flat.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType

from subscribers.csv_rows import CsvFile, CsvRow
from subscribers.import_report import BadRow

AHEAD = 2
"""Batches read and waiting at most (besides the one being read and the one being written)."""


@dataclass
class Batch:
    """Rows of the file to write in one transaction, and the bad rows found reading them.
    `read` counts the rows read so far. The last batch has `last`, and `failure` when the
    file stops being UTF-8 there: (the line's number, the decoder's reason)."""

    rows: list[CsvRow] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    read: int = 0
    last: bool = False
    failure: tuple[int, str] | None = None


class BatchReader:
    """`with BatchReader(...) as reader: for batch in reader.batches(): ...`; leaving the
    block stops the thread, whatever happened."""

    def __init__(self, csv_file: CsvFile, batch_size: int, label: str) -> None:
        self.csv_file = csv_file
        self.batch_size = batch_size
        self.label = label
        self._queue: queue.Queue[Batch | BaseException] = queue.Queue(maxsize=AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="import-reader", daemon=True)

    def __enter__(self) -> BatchReader:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def batches(self) -> Iterator[Batch]:
        """The batches in the file's order; what the reading raised is raised here."""
        while True:
            item = self._queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item
            if item.last:
                return

    def _run(self) -> None:
        try:
            for batch in self._read():
                if not self._put(batch):
                    return
        except BaseException as exc:  # handed to the writing thread, raised there
            self._put(exc)

    def _put(self, item: Batch | BaseException) -> bool:
        """Wait for room in the queue; False once the writing thread has stopped."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
            except queue.Full:
                continue
            return True
        return False

    def _read(self) -> Iterator[Batch]:
        """Rows in batches of `batch_size` good rows; a repeat of an address within the
        batch is a bad row here (repeats across batches are the store's to find)."""
        batch = Batch()
        first_line: dict[str, int] = {}  # this batch only
        rows = self.csv_file.rows()
        read = 0
        while True:
            try:
                row = next(rows)
            except StopIteration:
                break
            except UnicodeDecodeError as exc:
                batch.read, batch.last = read, True
                batch.failure = (self.csv_file.lines.next_number, exc.reason)
                yield batch
                return
            read += 1
            if isinstance(row, BadRow):
                batch.bad.append(row)
            else:
                first = first_line.get(row.email)
                if first is not None:
                    reason = f"duplicate in file (first on line {first})"
                    batch.bad.append(BadRow(self.label, row.line, row.raw, reason))
                else:
                    first_line[row.email] = row.line
                    batch.rows.append(row)
            if len(batch.rows) >= self.batch_size:
                batch.read = read
                yield batch
                batch, first_line = Batch(), {}
        batch.read, batch.last = read, True
        yield batch
