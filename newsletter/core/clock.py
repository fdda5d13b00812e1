"""The one clock. SQLModel stores datetimes as aware UTC, so every timestamp is aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
