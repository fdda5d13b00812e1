"""What the admin API takes and gives, as pydantic models: its OpenAPI schema is built
from these."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_validator

from newsletter.analytics.report import LinkClicks, Rates
from newsletter.web.params import Text
from subscribers.addresses import EMAIL_MAX, NAME_MAX, clean_name
from subscribers.models import Status, Subscriber
from subscribers.status import REASON_MAX

NAME_RAW_MAX = 4 * NAME_MAX
"""A bound on the name as sent, before it is cleaned (the column's limit applies to the
clean name: a name padded with escape sequences is cleaned, not refused)."""


class SubscriberOut(BaseModel):
    id: int
    email: str
    name: str | None
    status: Status
    status_reason: str | None
    source: str
    created_at: datetime
    status_changed_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None

    @field_validator("name")
    @classmethod
    def _clean(cls, name: str | None) -> str | None:
        """The name as every part of the service uses it, also when it was stored by older
        code that did not clean names."""
        return clean_name(name)

    @classmethod
    def of(cls, row: Subscriber) -> SubscriberOut:
        return cls.model_validate(row, from_attributes=True)


class SubscriberPage(BaseModel):
    items: list[SubscriberOut]
    total: int = Field(description="How many match the filters, over all pages.")
    next_after_id: int | None = Field(
        description="Pass as `after_id` for the next page; null on the last page."
    )


class SubscriberCreate(BaseModel):
    email: str = Field(max_length=EMAIL_MAX, examples=["ada@example.com"])
    name: str | None = Field(
        default=None,
        max_length=NAME_RAW_MAX,
        description=(
            "Cleaned before it is stored: control characters, escape sequences and bidi "
            f"controls removed, whitespace made single spaces; at most {NAME_MAX} "
            "characters once cleaned."
        ),
    )
    confirmed: bool = Field(
        default=False, description="Active at once (consent collected elsewhere)."
    )


class StatusUpdate(BaseModel):
    status: Status
    reason: Text = Field(
        min_length=1, max_length=REASON_MAX, description="Why; kept in the history."
    )


class BadRowOut(BaseModel):
    line: int
    email: str
    reason: str


class ImportOut(BaseModel):
    rows: int
    imported: int
    unchanged: int
    bad: int
    bad_rows: list[BadRowOut]
    warnings: list[str]


class WeekGrowth(BaseModel):
    week: str
    new: int
    confirmed: int
    unsubscribed: int


class StatsOut(BaseModel):
    total: int
    by_status: dict[str, int]
    growth: list[WeekGrowth]


# ------------------------------------------------------------------ an issue's report


class IssueReportOut(BaseModel):
    """An issue's numbers (`newsletter.analytics.report` says what each counts); the same
    shape as `newsletter issue report N --json`."""

    number: int
    week: str
    subject: str
    status: str
    sent: bool = Field(description="Sending has started; false: not sent yet, every count 0.")
    started_at: str | None = Field(
        description="ISO 8601, UTC.", json_schema_extra={"format": "date-time"}
    )
    finished_at: str | None = Field(
        description="ISO 8601, UTC.", json_schema_extra={"format": "date-time"}
    )
    audience: int
    accepted: int
    failed: int
    unknown: int
    skipped: int
    queued: int
    processed: int
    delivered: int
    deferred: int
    bounced: int
    bounced_hard: int
    bounced_soft: int
    dropped: int
    complained: int
    unsubscribed: int
    unique_opens: int = Field(description="Recipients with an open not flagged as a machine's.")
    machine_opens: int = Field(description="Recipients with a machine open (privacy proxies).")
    unique_clicks: int
    events: int = Field(description="Provider events stored for the issue (no duplicates).")
    rates: Rates = Field(
        description="Shares from 0 to 1, null when their base is zero: `delivered`, "
        "`bounced`, `bounced_hard`, `bounced_soft` and `dropped` over accepted (a bounced "
        "message was never delivered), every other rate over delivered."
    )
    links: list[LinkClicks] = Field(
        description="Clicked links, most clicked first, each with the recipients who clicked "
        "it and its share of everyone who clicked any link."
    )
