"""The statements an import runs per batch, each taking the batch as one parameter: a JSON
array, read by `json_each` on SQLite and `json_array_elements` on PostgreSQL.

One statement per step whatever the batch's size: an IN list or an executemany binds a
parameter per row and per column, and SQLAlchemy's processing of each value (and, on
PostgreSQL, a round trip per row) was most of an import's time after the address checks.
Every name in this SQL is a constant of this module or a column name from the models;
values are always bound.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Table, TextClause, bindparam, text

TEMP_SCHEMA = {"sqlite": "temp", "postgresql": "pg_temp"}
SEEN = "subscriber_import_seen"
"""The import's TEMPORARY table of (address, first line), on its own connection."""


class BulkSql:
    """One dialect's statements, and `values`, the parameters they read their rows from."""

    def __init__(self, dialect: str) -> None:
        if dialect not in TEMP_SCHEMA:
            raise NotImplementedError(f"no bulk import for {dialect}")
        self.postgresql = dialect == "postgresql"
        seen = f"{TEMP_SCHEMA[dialect]}.{SEEN}"
        emails, hashes = self._rows(("emails", "text")), self._rows(("hashes", "text"))
        lines = self._rows(("emails", "text"), ("lines", "int"))
        self.earlier = _select("email, line", seen, "email", emails)
        self.remember = text(f"INSERT INTO {seen} (email, line) SELECT c0, c1 FROM {lines}")  # noqa: S608
        self.statuses = _select("email, status", "subscriber", "email", emails)
        self.tombstones = _select("email_hash", "forgotten_address", "email_hash", hashes)

    def values(self, **columns: list[Any]) -> dict[str, Any]:
        """The parameter that gives a statement these columns (lists of one length) as rows:
        one JSON array, of the values or, for several columns, of rows. One text parameter
        whatever the batch's size (psycopg dumps an array element by element, in Python),
        and one array for all columns (json_each has no index: joining one array per column
        on SQLite would read each array once per row)."""
        if len(columns) == 1:
            ((name, items),) = columns.items()
            return {name: json.dumps(items)}
        return {"_".join(columns): json.dumps(list(zip(*columns.values(), strict=True)))}

    def insert_subscribers(self, table: Table, fields: dict[str, Any]) -> TextClause:
        """The new rows from `emails` and `names`, in their order (ids follow the file), the
        same `fields` for all; RETURNING the ids of the rows inserted (ON CONFLICT DO
        NOTHING: an address added by someone else since the batch was classified is not)."""
        columns, values = ", ".join(fields), ", ".join(f":{name}" for name in fields)
        rows = self._rows(("emails", "text"), ("names", "text"))
        where = "" if self.postgresql else " WHERE true"  # SQLite: else ON reads as a join's
        statement = text(
            f"INSERT INTO {table.name} (email, name, {columns}) SELECT c0, c1, {values} "  # noqa: S608
            f"FROM {rows}{where} ORDER BY i ON CONFLICT DO NOTHING RETURNING id"
        )
        return _typed(statement, table, fields)

    def insert_history(self, table: Table, fields: dict[str, Any]) -> TextClause:
        """A first status change for each subscriber id of `ids`, the same `fields` for all."""
        columns, values = ", ".join(fields), ", ".join(f":{name}" for name in fields)
        statement = text(
            f"INSERT INTO {table.name} (subscriber_id, {columns}) SELECT c0, {values} "  # noqa: S608
            f"FROM {self._rows(('ids', 'int'))} ORDER BY i"
        )
        return _typed(statement, table, fields)

    def _rows(self, *params: tuple[str, str]) -> str:
        """A FROM item with a column c0, c1, … of each (name, SQL type) of `params`, read
        from the parameter `values` makes of these names, and the rows' position `i`."""
        name = "_".join(name for name, _ in params)
        if self.postgresql:
            if len(params) == 1:
                read, value = "json_array_elements_text", "v"
            else:
                read, value = "json_array_elements", "v->>{n}"
            source = f"{read}(CAST(:{name} AS json)) WITH ORDINALITY AS j(v, i)"
        else:
            source = f"json_each(:{name})"
            value = "value" if len(params) == 1 else "json_extract(value, '$[{n}]')"
        columns = ", ".join(
            f"CAST({value.format(n=n)} AS {kind}) AS c{n}" for n, (_, kind) in enumerate(params)
        )
        position = "i" if self.postgresql else "key AS i"
        return f"(SELECT {columns}, {position} FROM {source}) AS b"  # noqa: S608


def _select(columns: str, table: str, key: str, rows: str) -> TextClause:
    """`columns` of the rows of `table` whose `key` is among the c0 of `rows`."""
    return text(f"SELECT {columns} FROM {table} WHERE {key} IN (SELECT c0 FROM {rows})")  # noqa: S608


def _typed(statement: TextClause, table: Table, fields: dict[str, Any]) -> TextClause:
    """`statement` with each field's parameter of its column's type: a time is bound as the
    table's own column binds it."""
    return statement.bindparams(*(bindparam(name, type_=table.c[name].type) for name in fields))
