"""The physical lines under an import's CSV reader: numbered, and kept for the record being
read, so that a record found to have swallowed the rows after it (an unclosed quote) can
name its lines and hand them back to be read again, as rows of their own.

Python's csv reader pulls one line at a time from any iterator and keeps no state between
records, so lines handed back here are simply read next (and a row written on several
lines among them reads whole). A line is handed back at most once (`read_again` refuses a
line already handed back; `csv_rows` reads the lines of a record that begins with such a
line each on its own instead), so each line reaches the csv reader at most twice, whatever
the file: handing lines back again and again would be quadratic in the file's length.

What is held stays bounded whatever the file: a record holds at most `MAX_RECORD_LINES`
lines and, past `MAX_RECORD_CHARS` characters, takes no further line (csv's own field limit,
`csv.field_size_limit()`, 128 KiB, bounds one field; this bounds a record of many small
fields, such as a quote closed and opened again on every line, `x","y`). A record cut there
is `Unreadable`, and the reader starts afresh on the next line.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

MAX_RECORD_LINES: Final = 1_000
MAX_RECORD_CHARS: Final = 1 << 20


class RecordTooLong(Exception):
    """The record being read would take more lines or characters than a record may."""


class Lines:
    """A text stream's lines (line endings kept), numbered from 1."""

    def __init__(self, stream: Iterable[str]) -> None:
        self._source = iter(stream)
        self._again: deque[tuple[int, str]] = deque()
        self._read = 0  # lines taken from the stream so far
        self.again_until = 0  # the last line handed back to be read again
        self._chars = 0  # characters of the current record
        self.taken: list[tuple[int, str]] = []  # (number, text) of the current record

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if len(self.taken) >= MAX_RECORD_LINES or self._chars >= MAX_RECORD_CHARS:
            raise RecordTooLong
        if self._again:
            number, line = self._again.popleft()
        else:
            line = next(self._source)
            self._read += 1
            number = self._read
        self._chars += len(line)
        self.taken.append((number, line))
        return line

    @property
    def next_number(self) -> int:
        """The number of the line read next (where a decoding error is)."""
        return self._again[0][0] if self._again else self._read + 1

    def start_record(self) -> None:
        self.taken = []
        self._chars = 0

    def read_again(self, lines: list[tuple[int, str]]) -> None:
        """Hand back lines read once: they are read next, in their order, before the rest.
        ValueError for a line already handed back (a line is read again at most once)."""
        if not lines:
            return
        if lines[0][0] <= self.again_until:
            raise ValueError(f"line {lines[0][0]} was read again already")
        self._again.extend(lines)
        self.again_until = lines[-1][0]

    def read_before(self, number: int) -> bool:
        """Whether line `number` is one handed back (so being read a second time)."""
        return number <= self.again_until


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
    """Lines csv gave up on (a field over its size limit, a record cut at the limits
    above), and its reason."""

    reason: str
    lines: list[tuple[int, str]]


def records(lines: Lines, delimiter: str) -> Iterator[Record | Unreadable]:
    """Every record of the lines, in order; csv's own errors and records cut at the limits
    as `Unreadable` (the reader starts afresh after one: csv resets its state at each
    record). UnicodeDecodeError passes through: the file is not text."""
    reader = csv.reader(lines, delimiter=delimiter)
    while True:
        lines.start_record()
        try:
            cells = next(reader)
        except StopIteration:
            return
        except RecordTooLong:
            yield Unreadable(_too_long(lines.taken), lines.taken)
            continue
        except csv.Error as exc:
            if lines.taken:  # (csv fails only on a line it has read)
                yield Unreadable(str(exc), lines.taken)
            continue
        yield Record(cells, lines.taken)


def _too_long(taken: list[tuple[int, str]]) -> str:
    if len(taken) >= MAX_RECORD_LINES:
        return f"a row runs over more than {MAX_RECORD_LINES:,} lines"
    return f"a row is longer than {MAX_RECORD_CHARS:,} characters"
