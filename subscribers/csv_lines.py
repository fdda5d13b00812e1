"""The physical lines under an import's CSV reader: numbered, and kept for the record being
read, so that a record found to have swallowed the rows after it (an unclosed quote) can
hand its later lines back to be read again as rows of their own.

Python's csv reader pulls one line at a time from any iterator and keeps no state between
records, so lines pushed back here are simply read next. Each record keeps at most its own
lines, and csv refuses a field over `csv.field_size_limit()` (128 KiB), so what is held
stays bounded whatever the file.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


class Lines:
    """A text stream's lines (line endings kept), numbered from 1."""

    def __init__(self, stream: Iterable[str]) -> None:
        self._source = iter(stream)
        self._again: deque[tuple[int, str]] = deque()
        self._read = 0  # lines taken from the stream so far
        self.taken: list[tuple[int, str]] = []  # (number, text) of the current record

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._again:
            number, line = self._again.popleft()
        else:
            line = next(self._source)
            self._read += 1
            number = self._read
        self.taken.append((number, line))
        return line

    @property
    def next_number(self) -> int:
        """The number of the line read next (where a decoding error is)."""
        return self._again[0][0] if self._again else self._read + 1

    def start_record(self) -> None:
        self.taken = []

    def read_again(self, lines: list[tuple[int, str]]) -> None:
        """Hand lines back: they are read next, in their order, before the rest."""
        self._again.extendleft(reversed(lines))


@dataclass(frozen=True)
class Record:
    """One CSV record and the physical lines it was read from."""

    cells: list[str]
    lines: list[tuple[int, str]]

    @property
    def first(self) -> int:
        return self.lines[0][0]

    @property
    def last(self) -> int:
        return self.lines[-1][0]


@dataclass(frozen=True)
class Unreadable:
    """Lines csv gave up on (a field over its size limit), and its reason."""

    reason: str
    lines: list[tuple[int, str]]


def records(lines: Lines, delimiter: str) -> Iterator[Record | Unreadable]:
    """Every record of the lines, in order; csv's own errors as `Unreadable` (the reader
    starts afresh after one). UnicodeDecodeError passes through: the file is not text."""
    reader = csv.reader(lines, delimiter=delimiter)
    while True:
        lines.start_record()
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if lines.taken:  # (csv fails only on a line it has read)
                yield Unreadable(str(exc), lines.taken)
            continue
        yield Record(cells, lines.taken)
