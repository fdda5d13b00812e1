"""The driver's own cursor, for the few statements run once per event.

A 1,000-event POST writes a thousand event rows and up to a thousand activity rows and
reads a thousand recipients; through SQLAlchemy's statement layer, binding and converting
those parameters cost more than the database's work (most of it the datetime type's
round trip). Here the rows go to the driver as plain tuples (sqlite3 or psycopg), with
times in the exact form SQLAlchemy stores them in, so the rows read the same either way.
Everything that runs a few times per POST stays in SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

SQLITE_BLOCK = 20
"""Rows per multi-row INSERT on SQLite. One size only: the text of every statement is one
of a few, so each connection's statement cache keeps them compiled, instead of filling
with a differently sized (and large) statement for every POST's last rows."""

IN_SIZE = 500
"""Ids per IN (...) list on SQLite, padded with NULLs to exactly this (the same reason)."""


class Driver:
    """The session's DB-API connection with its placeholder and its time format."""

    def __init__(self, session: Session) -> None:
        connection = session.connection()
        self.sqlite = connection.dialect.name == "sqlite"
        self.raw = connection.connection.dbapi_connection
        self.mark = "?" if self.sqlite else "%s"
        self._texts: dict[datetime, str] = {}

    def marks(self, count: int) -> str:
        """`count` placeholders, comma separated."""
        return ", ".join([self.mark] * count)

    def time(self, value: datetime | None) -> Any:
        """A time as the column stores it (SQLite: UTC text as SQLAlchemy writes it). Each
        distinct time is written out once per driver: a POST's events share seconds."""
        if value is None or not self.sqlite:
            return value
        found = self._texts.get(value)
        if found is None:
            utc = value if value.tzinfo is UTC else value.astimezone(UTC)
            found = self._texts[value] = utc.isoformat(" ", "microseconds")[:26]
        return found

    def read_time(self, value: Any) -> datetime | None:
        """A time read back, aware and in UTC."""
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value + "+00:00")  # stored as UTC, zone left out
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)

    def rows(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        assert self.raw is not None
        cursor = self.raw.cursor()
        try:
            cursor.execute(sql, tuple(params))
            if cursor.description is not None:  # a statement that returns rows
                yield from cursor.fetchall()
        finally:
            cursor.close()

    def padded(self, ids: Sequence[Any]) -> list[Any]:
        """`ids` (at most `IN_SIZE`) padded with NULLs to `IN_SIZE`, for `in_list`."""
        assert len(ids) <= IN_SIZE
        return [*ids, *[None] * (IN_SIZE - len(ids))]

    def in_list(self) -> str:
        """`IN_SIZE` placeholders in parentheses (NULL matches nothing in an IN list)."""
        return f"({self.marks(IN_SIZE)})"

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        types: Sequence[str],
        rows: Sequence[Sequence[Any]],
        tail: str,
    ) -> list[tuple[Any, ...]]:
        """INSERT `rows` into `table` followed by `tail` (ON CONFLICT ..., RETURNING ...);
        the rows returned. PostgreSQL takes one statement with one array per column
        (`types` are their SQL types); SQLite one prepared single-row statement per row."""
        if not rows:
            return []
        names = ", ".join(columns)
        if not self.sqlite:
            return list(self.rows(self._unnest(table, names, types, tail), self._arrays(rows)))
        sql = f"INSERT INTO {table} ({names}) VALUES ({self.marks(len(columns))}) {tail}"  # noqa: S608
        return [found for row in rows for found in self.rows(sql, row)]

    def write(
        self,
        table: str,
        columns: Sequence[str],
        types: Sequence[str],
        rows: Sequence[Sequence[Any]],
        tail: str,
    ) -> None:
        """INSERT `rows` into `table` followed by `tail` (ON CONFLICT ..., no RETURNING).
        PostgreSQL: one statement of arrays, as `insert`. SQLite: blocks of `SQLITE_BLOCK`
        rows through one multi-row statement, the rest through a single-row one run for
        each row (both prepared once per connection)."""
        if not rows:
            return
        names = ", ".join(columns)
        if not self.sqlite:
            for _ in self.rows(self._unnest(table, names, types, tail), self._arrays(rows)):
                pass
            return
        one = f"({self.marks(len(columns))})"
        whole = len(rows) - len(rows) % SQLITE_BLOCK
        if whole:
            block = f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * SQLITE_BLOCK)} {tail}"  # noqa: S608
            self.many(
                block,
                [
                    [value for row in rows[start : start + SQLITE_BLOCK] for value in row]
                    for start in range(0, whole, SQLITE_BLOCK)
                ],
            )
        if whole < len(rows):
            self.many(f"INSERT INTO {table} ({names}) VALUES {one} {tail}", rows[whole:])  # noqa: S608

    @staticmethod
    def _unnest(table: str, names: str, types: Sequence[str], tail: str) -> str:
        arrays = ", ".join(f"%s::{kind}[]" for kind in types)
        return f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {tail}"  # noqa: S608

    @staticmethod
    def _arrays(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
        return [list(values) for values in zip(*rows, strict=True)]

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        assert self.raw is not None
        cursor = self.raw.cursor()
        try:
            cursor.executemany(sql, rows)
        finally:
            cursor.close()
