"""The ledger's three tables and the states of their rows (see the package docstring for
what each state means and which moves the sender makes)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from newsletter.core.clock import utcnow

ERROR_MAX = 1000


class BatchState(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    RETRYABLE = "retryable"
    ACCEPTED = "accepted"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"


CLAIMABLE = (BatchState.PENDING, BatchState.RETRYABLE)
OPEN = (BatchState.PENDING, BatchState.RETRYABLE, BatchState.IN_FLIGHT)
FINAL = (BatchState.ACCEPTED, BatchState.FAILED, BatchState.UNKNOWN, BatchState.SKIPPED)


class RecipientState(StrEnum):
    QUEUED = "queued"
    ACCEPTED = "accepted"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"


class IssueSend(SQLModel, table=True):
    """That an issue's sending started, and the shape of its snapshot."""

    __tablename__ = "issue_send"
    issue_id: int = Field(foreign_key="issue.id", primary_key=True)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    audience: int = 0
    batches: int = 0
    batch_size: int


class SendBatch(SQLModel, table=True):
    """One request's worth of an issue's recipients (see the module docstring for states)."""

    __tablename__ = "send_batch"
    __table_args__ = (Index("ix_send_batch_claim", "issue_id", "state", "seq"),)
    issue_id: int = Field(foreign_key="issue.id", primary_key=True)
    seq: int = Field(primary_key=True)  # 1, 2, ... within the issue
    state: str = Field(default=BatchState.PENDING, max_length=20)
    size: int = 0  # recipients assigned at the snapshot
    sent: int = 0  # recipients in the last request (the others were skipped)
    attempts: int = 0  # requests made, over every run
    tries: int = 0  # failed attempts that were safe to repeat, this run
    owner: str | None = Field(default=None, max_length=200)
    lease_until: float | None = None  # unix seconds
    not_before: float | None = None  # unix seconds; a retry waits until then
    claimed_at: datetime | None = None
    finished_at: datetime | None = None
    message_id: str | None = Field(
        default=None, max_length=200
    )  # the provider's id for the request
    error: str | None = Field(default=None, max_length=ERROR_MAX)


class SendRecipient(SQLModel, table=True):
    """One subscriber in one issue's audience: their batch and what became of them.

    No foreign key to `subscriber`: the ledger is history, and forgetting a subscriber
    (GDPR) must neither be blocked by it nor rewrite it; the id alone is not the address.
    None to `issue` either (migration 0012): checked row by row, it cost more than half of
    a million-recipient snapshot on PostgreSQL, and the batches written in the same
    transaction hold the key for them.
    """

    __tablename__ = "send_recipient"
    # By batch (claims, outcomes). None by subscriber alone (migration 0013): one
    # subscriber's issues are looked up issue by issue through the primary key. On
    # PostgreSQL one partition per issue (migration 0014, `partitions`).
    __table_args__ = (
        Index("ix_send_recipient_batch", "issue_id", "batch_seq"),
        {"postgresql_partition_by": "LIST (issue_id)"},
    )
    issue_id: int = Field(primary_key=True)
    subscriber_id: int = Field(primary_key=True)
    batch_seq: int
    state: str = Field(default=RecipientState.QUEUED, max_length=20)
