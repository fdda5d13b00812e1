"""An issue's report as the desk shows it (`templates/web/admin/issue_report.html`, the
printable page and the CSV): the funnel, each rate beside the average of the previous five
sent issues, opens and clicks per hour over the first two days, the links clicked, and the
community vote beside the panel's ship share for each comparison.

One function builds it, `desk_report(session, number)`; every part is read from what is
kept already (`issue_report`'s counters and batch totals, the hourly index ranges of
`hourly`, the vote counts), so a report of a million recipients and three million events
reads a few thousand rows. The previous five issues cost five more `issue_report`s (a few
milliseconds each).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from newsletter.analytics.hourly import HourlyActivity, hourly_activity
from newsletter.analytics.report import IssueReport, LinkClicks, issue_report, share
from newsletter.analytics.votes import ComparisonVote, comparison_votes
from newsletter.publishing.models import Issue
from newsletter.sending.ledger import IssueSend

PREVIOUS = 5


@dataclass(frozen=True)
class Measure:
    """One line of the report: a count, its rate, and that rate's recent average."""

    key: str
    label: str
    count: int
    rate: float | None  # `count` of `of`; None when `of` is zero
    of: str  # what the rate is a share of ("" for a count without a rate)
    average: float | None = None  # the mean of the previous issues' rates (None: none had one)
    funnel: bool = False  # a step of the funnel audience → accepted → delivered → opens → clicks
    averaged: tuple[int, ...] = ()  # the numbers of the previous issues in `average`


Rate = Callable[[IssueReport], float | None]


def has_audience(report: IssueReport) -> bool:
    """Whether an issue had anyone to send to: the accepted rate of one that had nobody
    says nothing about sending."""
    return report.audience > 0


def has_events(report: IssueReport) -> bool:
    """Whether the provider has reported what became of any recipient yet (delivered,
    bounced or dropped). One just sent, one sent through a provider without webhooks, or
    one whose send failed has no such events, and its event-based rates (delivered,
    bounces, opens, ...) would read as 0% though nothing is known: such an issue is left
    out of those rates' averages."""
    return report.delivered + report.bounced + report.dropped > 0


def _always(report: IssueReport) -> bool:
    return True


_MEASURES: tuple[tuple[str, str, Callable[[IssueReport], int], Rate, str, bool], ...] = (
    ("audience", "Audience", lambda r: r.audience, lambda r: None, "", True),
    ("accepted", "Accepted", lambda r: r.accepted, lambda r: share(r.accepted, r.audience),
     "audience", True),
    ("delivered", "Delivered", lambda r: r.delivered, lambda r: r.rates.delivered, "accepted",
     True),
    ("unique_opens", "Unique opens", lambda r: r.unique_opens, lambda r: r.rates.unique_opens,
     "delivered", True),
    ("unique_clicks", "Unique clicks", lambda r: r.unique_clicks,
     lambda r: r.rates.unique_clicks, "delivered", True),
    ("click_to_open", "Click-to-open", lambda r: r.unique_clicks,
     lambda r: share(r.unique_clicks, r.unique_opens), "unique opens", False),
    ("machine_opens", "Machine opens (apart)", lambda r: r.machine_opens,
     lambda r: r.rates.machine_opens, "delivered", False),
    ("bounced_hard", "Bounced, hard", lambda r: r.bounced_hard, lambda r: r.rates.bounced_hard,
     "accepted", False),
    ("bounced_soft", "Bounced, soft", lambda r: r.bounced_soft, lambda r: r.rates.bounced_soft,
     "accepted", False),
    ("complained", "Complaints (spam)", lambda r: r.complained, lambda r: r.rates.complained,
     "delivered", False),
    ("unsubscribed", "Unsubscribes", lambda r: r.unsubscribed, lambda r: r.rates.unsubscribed,
     "delivered", False),
)  # fmt: skip
"""(key, label, count, rate, what the rate is of, a funnel step). Rates are
`issue_report`'s: delivered and the bounces of accepted, the others of delivered,
click-to-open of unique opens."""

_AVERAGED_OVER: dict[str, Callable[[IssueReport], bool]] = {
    "audience": _always,
    "accepted": has_audience,
}
"""Which previous issues a measure's average takes (`has_events` for any not named)."""


@dataclass(frozen=True)
class DeskReport:
    """Everything the report partial shows; `issue` is the plain report it starts from."""

    issue: IssueReport
    measures: tuple[Measure, ...]
    previous: tuple[int, ...]  # the numbers of the previous sent issues, newest first
    hourly: HourlyActivity
    comparisons: tuple[ComparisonVote, ...]
    without_events: tuple[int, ...] = ()  # of `previous`: left out of event-based averages
    without_audience: tuple[int, ...] = ()  # of `previous`: left out of the accepted average

    @property
    def number(self) -> int:
        return self.issue.number

    @property
    def links(self) -> tuple[LinkClicks, ...]:
        return self.issue.links

    @property
    def funnel(self) -> tuple[Measure, ...]:
        return tuple(m for m in self.measures if m.funnel)

    def measure(self, key: str) -> Measure:
        return next(m for m in self.measures if m.key == key)


def sent_numbers(
    session: Session, *, before: int | None = None, limit: int = PREVIOUS
) -> list[int]:
    """The numbers of the newest `limit` issues whose sending started (before issue
    `before`, if given), newest first: an indexed walk down the issue numbers."""
    query = select(Issue.number).join(IssueSend, col(IssueSend.issue_id) == Issue.id)
    if before is not None:
        query = query.where(col(Issue.number) < before)
    return list(session.exec(query.order_by(col(Issue.number).desc()).limit(limit)).all())


def mean(rates: list[float | None]) -> float | None:
    """The plain mean of the rates that exist (each issue counts once, whatever its size)."""
    known = [r for r in rates if r is not None]
    return sum(known) / len(known) if known else None


def measures(report: IssueReport, previous: list[IssueReport]) -> tuple[Measure, ...]:
    """Each measure of `report`, its average over those of the `previous` issues whose
    rate means something (see `has_audience`, `has_events`)."""
    found = []
    for key, label, count, rate, of, funnel in _MEASURES:
        counted = [p for p in previous if _AVERAGED_OVER.get(key, has_events)(p)]
        found.append(
            Measure(
                key=key,
                label=label,
                count=count(report),
                rate=rate(report) if report.sent else None,
                of=of,
                average=mean([rate(p) for p in counted]),
                funnel=funnel,
                averaged=tuple(p.number for p in counted),
            )
        )
    return tuple(found)


def desk_report(session: Session, number: int) -> DeskReport:
    """Issue `number`'s desk report; IssueNotFound (a NotFound) if there is no such issue.
    An issue not sent yet has every count zero, no hours, and its comparisons' votes."""
    report = issue_report(session, number)
    issue_id = session.exec(select(Issue.id).where(Issue.number == number)).one()
    assert issue_id is not None
    before = sent_numbers(session, before=number)
    previous = [issue_report(session, n) for n in before]
    return DeskReport(
        issue=report,
        measures=measures(report, previous),
        previous=tuple(before),
        hourly=hourly_activity(session, issue_id, report.started_at),
        comparisons=comparison_votes(session, issue_id, report.delivered, accepted=report.accepted),
        without_events=tuple(p.number for p in previous if not has_events(p)),
        without_audience=tuple(p.number for p in previous if not has_audience(p)),
    )
