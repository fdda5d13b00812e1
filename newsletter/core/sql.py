"""Small SQL helpers shared by every layer that writes."""

from __future__ import annotations

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel


def row_id(value: int | None) -> int:
    """The id of a flushed row, typed as present (mypy cannot know the flush happened)."""
    if value is None:
        raise ValueError("row has no id: it was not flushed")
    return value


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a model (SQLModel does not declare `__table__` for type checkers)."""
    table = getattr(model, "__table__", None)
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


def insert_ignoring_conflicts(dialect: str, table: Table) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING on SQLite and PostgreSQL (a race is not an error)."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise NotImplementedError(f"no INSERT … ON CONFLICT DO NOTHING for {dialect}")
