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

SQLITE_PARAMETERS = 8000
"""Bound parameters per SQLite statement (its limit is 32,766)."""


class Driver:
    """The session's DB-API connection with its placeholder and its time format."""

    def __init__(self, session: Session) -> None:
        connection = session.connection()
        self.sqlite = connection.dialect.name == "sqlite"
        self.raw = connection.connection.dbapi_connection
        self.mark = "?" if self.sqlite else "%s"

    def marks(self, count: int) -> str:
        """`count` placeholders, comma separated."""
        return ", ".join([self.mark] * count)

    def time(self, value: datetime | None) -> Any:
        """A time as the column stores it (SQLite: UTC text as SQLAlchemy writes it)."""
        if value is None or not self.sqlite:
            return value
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")

    def read_time(self, value: Any) -> datetime | None:
        """A time read back, aware and in UTC."""
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
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
        (`types` are their SQL types); SQLite takes a few multi-row VALUES statements."""
        if not rows:
            return []
        names = ", ".join(columns)
        if not self.sqlite:
            return list(self.rows(self._unnest(table, names, types, tail), self._arrays(rows)))
        found: list[tuple[Any, ...]] = []
        one = f"({self.marks(len(columns))})"
        per = SQLITE_PARAMETERS // len(columns)
        for start in range(0, len(rows), per):
            part = rows[start : start + per]
            values = ", ".join([one] * len(part))
            sql = f"INSERT INTO {table} ({names}) VALUES {values} {tail}"  # noqa: S608
            found.extend(self.rows(sql, [value for row in part for value in row]))
        return found

    def write(
        self,
        table: str,
        columns: Sequence[str],
        types: Sequence[str],
        rows: Sequence[Sequence[Any]],
        tail: str,
    ) -> None:
        """INSERT `rows` into `table` followed by `tail` (ON CONFLICT ..., no RETURNING).
        PostgreSQL: one statement of arrays, as `insert`. SQLite: one single-row statement
        prepared once and run for every row, which SQLite does in about two thirds of the
        time of multi-row VALUES (it compiles those into a program as long as the rows)."""
        if not rows:
            return
        names = ", ".join(columns)
        if not self.sqlite:
            for _ in self.rows(self._unnest(table, names, types, tail), self._arrays(rows)):
                pass
            return
        sql = f"INSERT INTO {table} ({names}) VALUES ({self.marks(len(columns))}) {tail}"  # noqa: S608
        self.many(sql, rows)

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
