"""Applying a POST's events (to be written: see issue #12)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.core.settings import Settings
from newsletter.delivery.events import DeliveryEvent


@dataclass
class Applied:
    """What one POST's events came to."""

    received: int = 0
    stored: int = 0  # new events (the others were duplicates)
    duplicates: int = 0
    unmatched: int = 0  # stored, but naming no send we know
    settled: int = 0  # recipients of unknown batches now known accepted
    suppressed: list[int] = field(default_factory=list)  # subscriber ids suppressed now
    unsubscribed: list[int] = field(default_factory=list)
    paused: list[int] = field(default_factory=list)  # issue numbers paused for deliverability


def apply_events(
    session: Session, events: Sequence[DeliveryEvent], settings: Settings, *, now: datetime
) -> Applied:
    """Apply `events` inside the caller's transaction."""
    raise NotImplementedError


def ingest(engine: Engine, settings: Settings, events: Sequence[DeliveryEvent]) -> Applied:
    """Apply `events` in one write transaction of their own: all or nothing."""
    raise NotImplementedError
