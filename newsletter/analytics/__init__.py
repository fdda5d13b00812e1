"""Read-only reports built from the ledger, the events and the votes.

`issue_report` is the per-issue report (`newsletter issue report N`, `GET
/api/issues/N/report`); `recipient_counts` the ledger's states of an issue's recipients,
read from batch totals.
"""

from __future__ import annotations

from newsletter.analytics.recipients import RecipientCounts, recipient_counts
from newsletter.analytics.report import IssueReport, LinkClicks, Rates, issue_report

__all__ = [
    "IssueReport",
    "LinkClicks",
    "Rates",
    "RecipientCounts",
    "issue_report",
    "recipient_counts",
]
