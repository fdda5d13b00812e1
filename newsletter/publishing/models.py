"""Tables of the publishing core: the panel, tools, comparisons, reviews and issues.

Timestamps are aware UTC (SQLModel's UTCDateTime), produced by `newsletter.core.clock.utcnow`.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Final

from sqlalchemy import Column, ForeignKey, Index, Integer, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from newsletter.core.clock import utcnow
from newsletter.publishing.lifecycle import REASON_MAX, IssueStatus

ISSUE_NUMBER_MAX: Final = 2**31 - 1
"""The largest issue number the `issue.number` column holds (a 32-bit INTEGER on
PostgreSQL). Public addresses are bounded by it: a longer number is no issue, and SQLite
could not even compare it (its integers stop at 64 bits)."""


class Lens(StrEnum):
    DEVELOPER_EXPERIENCE = "developer-experience"
    COMPETITION = "competition"
    THESIS = "thesis"
    BUSINESS = "business"


LENS_LABELS: dict[str, str] = {
    Lens.DEVELOPER_EXPERIENCE: "Developer experience",
    Lens.COMPETITION: "Competition and risk",
    Lens.THESIS: "Long-term thesis",
    Lens.BUSINESS: "Buyer and business model",
}


class PricingEntry(StrEnum):
    FREE = "Free"
    FREEMIUM = "Freemium"
    PAID = "Paid"
    ENTERPRISE = "Enterprise"


class Verdict(StrEnum):
    SHIP = "ship"
    WAIT = "wait"
    SKIP = "skip"


class Reviewer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, max_length=100)
    name: str = Field(max_length=200)
    lens: str = Field(max_length=40)
    position: int = 0


class Tool(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, max_length=100)
    name: str = Field(max_length=200)
    vendor: str = Field(max_length=200)
    category: str = Field(max_length=100)
    tagline: str = Field(max_length=300)
    description: str = Field(sa_column=Column(Text, nullable=False))
    pricing_entry: str = Field(max_length=20)
    pricing_note: str | None = Field(default=None, max_length=300)
    url: str = Field(max_length=2000)


class Comparison(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, max_length=200)
    title: str = Field(max_length=300)
    question: str = Field(max_length=300)
    published: date = Field(index=True)
    verdict: str = Field(max_length=500)
    source: str = Field(default="", max_length=500)
    loaded_at: datetime = Field(default_factory=utcnow)
    withdrawn_at: datetime | None = None  # its file was deleted: never picked again


class ComparisonTool(SQLModel, table=True):
    __tablename__ = "comparison_tool"
    comparison_id: int = Field(foreign_key="comparison.id", primary_key=True, ondelete="CASCADE")
    tool_id: int = Field(foreign_key="tool.id", primary_key=True)
    position: int


class Review(SQLModel, table=True):
    """One reviewer's verdict and take on one tool in one comparison."""

    __table_args__ = (UniqueConstraint("comparison_id", "reviewer_id", "tool_id"),)
    id: int | None = Field(default=None, primary_key=True)
    comparison_id: int = Field(foreign_key="comparison.id", index=True, ondelete="CASCADE")
    reviewer_id: int = Field(foreign_key="reviewer.id")
    tool_id: int = Field(foreign_key="tool.id")
    position: int
    verdict: str = Field(max_length=10)
    take: str = Field(sa_column=Column(Text, nullable=False))


class Issue(SQLModel, table=True):
    """A numbered weekly issue and its frozen snapshot: what is sent is what was approved.

    One *live* issue per ISO week: a cancelled issue stays in the history and frees its week.
    """

    __table_args__ = (
        Index(
            "uq_issue_live_week",
            "week",
            unique=True,
            sqlite_where=text("status <> 'cancelled'"),
            postgresql_where=text("status <> 'cancelled'"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    number: int = Field(unique=True)
    week: str = Field(index=True, max_length=10)
    status: str = Field(default=IssueStatus.DRAFT, max_length=20, index=True)
    status_reason: str | None = Field(default=None, max_length=REASON_MAX)  # for people to read
    pause_cause: str | None = Field(default=None, max_length=20)  # a PauseCause, when paused
    created_at: datetime = Field(default_factory=utcnow)
    subject: str = Field(default="", max_length=300)
    preheader: str = Field(default="", max_length=300)
    html: str = Field(default="", sa_column=Column(Text, nullable=False))
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    mjml: str = Field(default="", sa_column=Column(Text, nullable=False))
    content_hash: str = Field(default="", max_length=64)
    approved_hash: str | None = Field(default=None, max_length=64)  # content_hash when approved
    # The view the snapshot was rendered from (JSON), so the web version shows what went out;
    # None for an issue rendered before 0007. Not part of the content hash: it only feeds
    # the site, and its live figures (the community vote) are refreshed there anyway.
    page: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    rendered_at: datetime | None = None


class Vote(SQLModel, table=True):
    """One subscriber's community vote on one comparison; a second click changes it.

    Forgetting a subscriber keeps the vote but drops who cast it, so shares do not move.
    """

    __table_args__ = (UniqueConstraint("subscriber_id", "comparison_id"),)
    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("subscriber.id", ondelete="SET NULL"), nullable=True),
    )
    issue_id: int = Field(foreign_key="issue.id")
    comparison_id: int = Field(foreign_key="comparison.id", index=True)
    tool_id: int = Field(foreign_key="tool.id")
    voted_at: datetime = Field(default_factory=utcnow)
    changed_at: datetime = Field(default_factory=utcnow)


class IssueComparison(SQLModel, table=True):
    """Which comparisons an issue holds, in order; a comparison appears in one issue at most."""

    __tablename__ = "issue_comparison"
    issue_id: int = Field(foreign_key="issue.id", primary_key=True, ondelete="CASCADE")
    comparison_id: int = Field(foreign_key="comparison.id", primary_key=True, unique=True)
    position: int
