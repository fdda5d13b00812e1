"""What events leave behind: each event once, each recipient's delivery and engagement, the
links clicked, and the counters a report reads.

Personal rows (`delivery_event`, `recipient_activity`, `link_click`) hang on the subscriber
with ON DELETE CASCADE, so `subscribers forget` erases them with the address; the counters
(`event_tally`, `issue_link.clicks`) are aggregates and stay, as votes' shares do.
The ledger (`send_recipient`) is not written here except to settle `unknown` recipients.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from newsletter.core.clock import utcnow

EVENT_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite: the rowid itself
URL_MAX = 2000
TEXT_MAX = 500


class Delivery(StrEnum):
    """A recipient's latest delivery state for one issue. Events arrive out of order, so a
    state never goes back to one of a lower `RANK` (a late `deferred` after `delivered`
    changes nothing; a bounce after a delivery does move it)."""

    PROCESSED = "processed"
    DEFERRED = "deferred"
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    DROPPED = "dropped"


RANK: dict[Delivery | None, int] = {
    None: 0,  # accepted by the provider, nothing heard since
    Delivery.PROCESSED: 1,
    Delivery.DEFERRED: 2,
    Delivery.DELIVERED: 3,
    Delivery.BOUNCED: 4,
    Delivery.DROPPED: 4,
}


class Tally(StrEnum):
    """The counters of one issue (`event_tally`), each a number of recipients.

    Delivery counters count recipients by their latest state (a recipient moved from
    deferred to delivered leaves `deferred`): their sum is at most the audience.
    The others count recipients who did it at least once in reply to this issue.
    """

    PROCESSED = "processed"
    DEFERRED = "deferred"
    DELIVERED = "delivered"
    BOUNCED_HARD = "bounced_hard"
    BOUNCED_SOFT = "bounced_soft"
    DROPPED = "dropped"
    COMPLAINED = "complained"
    UNSUBSCRIBED = "unsubscribed"
    OPENED = "opened"  # at least one open not flagged as a machine's
    MACHINE_OPENED = "machine_opened"  # at least one machine open
    CLICKED = "clicked"  # at least one counted click (the service's own links never count)
    SETTLED = "settled"  # recipients of `unknown` batches an event proved accepted
    EVENTS = "events"  # events stored for this issue (duplicates not counted)


def _subscriber_fk(*, nullable: bool, primary_key: bool = False) -> Column[int]:
    return Column(
        Integer,
        ForeignKey("subscriber.id", ondelete="CASCADE"),
        nullable=nullable,
        primary_key=primary_key,
        index=not primary_key,
    )


class StoredEvent(SQLModel, table=True):
    """One provider event, stored once: `(provider, event_id)` is unique, so a retried
    webhook POST changes nothing. An event that names no send we know (a test send,
    another system on the same account, a forgotten subscriber) keeps `issue_id` NULL."""

    __tablename__ = "delivery_event"
    __table_args__ = (UniqueConstraint("provider", "event_id", name="uq_delivery_event"),)
    id: int | None = Field(default=None, sa_column=Column(EVENT_ID, primary_key=True))
    provider: str = Field(max_length=20)
    event_id: str = Field(max_length=100)
    type: str = Field(max_length=30)
    provider_type: str = Field(default="", max_length=50)
    occurred_at: datetime
    received_at: datetime = Field(default_factory=utcnow)
    issue_id: int | None = None
    subscriber_id: int | None = Field(default=None, sa_column=_subscriber_fk(nullable=True))
    batch_seq: int | None = None
    bounce_kind: str | None = Field(default=None, max_length=10)
    reason: str | None = Field(default=None, max_length=TEXT_MAX)
    classification: str | None = Field(default=None, max_length=100)
    smtp_status: str | None = Field(default=None, max_length=20)
    url: str | None = Field(default=None, max_length=URL_MAX)
    machine_open: bool = False
    user_agent: str | None = Field(default=None, max_length=TEXT_MAX)


class RecipientActivity(SQLModel, table=True):
    """One recipient of one issue as events describe them (a row once the first event
    arrives): the latest delivery state and the first of each kind of engagement."""

    __tablename__ = "recipient_activity"
    __table_args__ = (
        # One subscriber's issues (the desk's subscriber page) and `forget`'s cascade.
        Index("ix_recipient_activity_subscriber", "subscriber_id"),
        # The report's first opens and clicks per hour: one index range per hour.
        Index("ix_recipient_activity_first_open", "issue_id", "first_open_at"),
        Index("ix_recipient_activity_first_click", "issue_id", "first_click_at"),
    )
    issue_id: int = Field(primary_key=True)
    subscriber_id: int = Field(sa_column=_subscriber_fk(nullable=False, primary_key=True))
    delivery: str | None = Field(default=None, max_length=20)
    delivery_at: datetime | None = None
    bounce_kind: str | None = Field(default=None, max_length=10)
    soft_failed: bool = False
    """This issue soft-bounced for them (a `blocked` bounce, or deferrals ending in a
    drop): counted by the rule that suppresses after repeated soft bounces."""
    first_open_at: datetime | None = None
    machine_open_at: datetime | None = None
    first_click_at: datetime | None = None
    complained_at: datetime | None = None
    unsubscribed_at: datetime | None = None


class IssueLink(SQLModel, table=True):
    """A link of an issue that was clicked, and by how many recipients."""

    __tablename__ = "issue_link"
    issue_id: int = Field(primary_key=True)
    url_hash: str = Field(primary_key=True, max_length=64)  # SHA-256 hex of the URL
    url: str = Field(max_length=URL_MAX)
    clicks: int = 0  # unique: recipients who clicked it at least once


class LinkClick(SQLModel, table=True):
    """That a recipient clicked a link of an issue (once, however often they did)."""

    __tablename__ = "link_click"
    __table_args__ = (Index("ix_link_click_subscriber", "subscriber_id"),)
    issue_id: int = Field(primary_key=True)
    url_hash: str = Field(primary_key=True, max_length=64)
    subscriber_id: int = Field(
        sa_column=Column(Integer, ForeignKey("subscriber.id", ondelete="CASCADE"), primary_key=True)
    )


class EventTally(SQLModel, table=True):
    """One counter of one issue (see `Tally`), kept as events are applied, so a report of a
    million recipients reads a few rows instead of counting them."""

    __tablename__ = "event_tally"
    issue_id: int = Field(primary_key=True)
    name: str = Field(primary_key=True, max_length=40)
    value: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
