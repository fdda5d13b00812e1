"""The subscriber table."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from subscribers.clock import utcnow


class Status(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


class Subscriber(SQLModel, table=True):
    # Ids are in tokens; SQLite must never hand a forgotten subscriber's id to a new one.
    __table_args__ = {"sqlite_autoincrement": True}
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, max_length=320)
    name: str | None = Field(default=None, max_length=200)
    status: str = Field(default=Status.PENDING, max_length=20, index=True)
    created_at: datetime = Field(default_factory=utcnow)
