"""The subscriber list: subscribers, the history of their status, and forgotten addresses."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel

from newsletter.core.clock import utcnow
from subscribers.addresses import EMAIL_MAX, NAME_MAX


class Status(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


SUPPRESSED = frozenset({Status.BOUNCED, Status.COMPLAINED})
"""Never emailed again, and never revived by a re-import or a re-subscribe."""


class Source(StrEnum):
    FORM = "form"
    IMPORT = "import"
    API = "api"
    CLI = "cli"
    DESK = "desk"  # an admin on the operators' desk (/admin)
    DEMO = "demo"
    WEBHOOK = "webhook"
    SYSTEM = "system"


class Subscriber(SQLModel, table=True):
    # Ids are in tokens; SQLite must never hand a forgotten subscriber's id to a new one.
    # (The desk's status filters and suppressions walk `ix_subscriber_status` in id order.)
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, max_length=EMAIL_MAX)  # normalised, lower case
    name: str | None = Field(default=None, max_length=NAME_MAX)
    status: str = Field(default=Status.PENDING, max_length=20, index=True)
    status_reason: str | None = Field(default=None, max_length=500)
    source: str = Field(default=Source.CLI, max_length=20)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    status_changed_at: datetime = Field(default_factory=utcnow)
    confirmed_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    bounced_at: datetime | None = None
    complained_at: datetime | None = None
    consent_at: datetime | None = None
    consent_ip: str | None = Field(default=None, max_length=45)
    confirmation_sent_at: datetime | None = None


class StatusChange(SQLModel, table=True):
    """Why a subscriber's status changed: written by `subscribers.status.change_status` only."""

    __tablename__ = "status_change"
    # The dashboard's growth per week: changes to one status within a week, by range.
    __table_args__ = (Index("ix_status_change_to_status_at", "to_status", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("subscriber.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    at: datetime = Field(default_factory=utcnow, index=True)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str = Field(max_length=20)
    reason: str = Field(max_length=500)
    source: str = Field(max_length=20)


class ForgottenAddress(SQLModel, table=True):
    """A GDPR erasure's tombstone: the SHA-256 of the address, nothing else personal."""

    __tablename__ = "forgotten_address"
    email_hash: str = Field(primary_key=True, max_length=64)
    forgotten_at: datetime = Field(default_factory=utcnow)
