"""The numbers of one issue: what the ledger says went out, and what the provider's events
say became of it (delivered, bounced, opened, clicked, ...), with the rates an operator
watches and the links people clicked.

Everything is read, nothing counted from events: the event counters (`event_tally`,
`issue_link.clicks`) are kept as events are applied (`newsletter.tracking`), and the
ledger's states come from batch totals (`recipients`). So a report of an issue with a
million recipients and millions of events usually reads a few thousand rows (about 5 ms;
`benchmarks/report.py` measures it and the worst case).

What each number means:

- `audience`: the recipients snapshotted when sending started; `accepted`, `failed`,
  `unknown`, `skipped`, `queued`: the ledger's states (they add up to the audience).
- `processed`, `delivered`, `deferred`, `bounced_hard`, `bounced_soft`, `dropped`:
  recipients by their *latest* delivery state (one moved from deferred to delivered
  counts only as delivered), so they add up to at most the accepted.
- `complained`, `unsubscribed`, `unique_opens`, `machine_opens`, `unique_clicks`:
  recipients who did it at least once. A recipient whose mail app fetched the images
  (`machine_opens`, e.g. Apple Mail Privacy Protection) and who also opened it themselves
  counts in both; `unique_opens` counts only opens not flagged as a machine's.
- Rates: `delivered`, `bounced` (hard, soft) and `dropped` are shares of `accepted` (a
  bounced or dropped message was never delivered, so a share of the delivered could pass
  100%); `complained`, `unsubscribed`, the opens and the clicks are shares of `delivered`.
  A rate whose base is zero is None ("—"), never a division by zero.
- `links`: each clicked URL with the recipients who clicked it, most clicked first; its
  share is of the recipients who clicked anything (shares add up to 100% or more).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from newsletter.analytics.recipients import RecipientCounts, recipient_counts
from newsletter.publishing.issues import IssueNotFound
from newsletter.publishing.models import ISSUE_NUMBER_MAX, Issue
from newsletter.sending.ledger import IssueSend
from newsletter.tracking.models import EventTally, IssueLink, Tally


@dataclass(frozen=True)
class LinkClicks:
    url: str
    clicks: int  # recipients who clicked it at least once
    share: float | None  # of the recipients who clicked any link; None when nobody did


@dataclass(frozen=True)
class Rates:
    """Shares, 0.0 to 1.0 (None when their base is zero): `delivered`, the bounces and
    `dropped` of accepted (what never arrived cannot be a share of what did), the others
    of delivered."""

    delivered: float | None
    bounced: float | None
    bounced_hard: float | None
    bounced_soft: float | None
    dropped: float | None
    complained: float | None
    unsubscribed: float | None
    unique_opens: float | None
    machine_opens: float | None
    unique_clicks: float | None


def share(part: int, whole: int) -> float | None:
    """`part` of `whole`, None when `whole` is zero."""
    return part / whole if whole > 0 else None


@dataclass(frozen=True)
class IssueReport:
    """One issue's numbers; see the module docstring for what each one counts."""

    number: int
    week: str
    subject: str
    status: str
    sent: bool  # sending has started (False: "not sent yet", every number zero)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    audience: int = 0
    accepted: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    queued: int = 0
    processed: int = 0
    delivered: int = 0
    deferred: int = 0
    bounced_hard: int = 0
    bounced_soft: int = 0
    dropped: int = 0
    complained: int = 0
    unsubscribed: int = 0
    unique_opens: int = 0
    machine_opens: int = 0
    unique_clicks: int = 0
    events: int = 0  # provider events stored for the issue, duplicates not counted
    links: tuple[LinkClicks, ...] = field(default_factory=tuple)

    @property
    def bounced(self) -> int:
        return self.bounced_hard + self.bounced_soft

    @property
    def rates(self) -> Rates:
        over = self.delivered
        accepted = self.accepted
        return Rates(
            delivered=share(self.delivered, accepted),
            bounced=share(self.bounced, accepted),
            bounced_hard=share(self.bounced_hard, accepted),
            bounced_soft=share(self.bounced_soft, accepted),
            dropped=share(self.dropped, accepted),
            complained=share(self.complained, over),
            unsubscribed=share(self.unsubscribed, over),
            unique_opens=share(self.unique_opens, over),
            machine_opens=share(self.machine_opens, over),
            unique_clicks=share(self.unique_clicks, over),
        )

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (times as ISO 8601 strings): what `--json` prints
        and the API answers, one shape for both."""
        data = asdict(self)
        for name in ("started_at", "finished_at"):
            data[name] = data[name].isoformat() if data[name] else None
        data["links"] = [asdict(link) for link in self.links]
        data["bounced"] = self.bounced
        data["rates"] = asdict(self.rates)
        return data


def issue_report(session: Session, number: int) -> IssueReport:
    """The report of issue `number`; IssueNotFound (a NotFound) if there is no such issue,
    a number past what an issue number can be included."""
    if not 1 <= number <= ISSUE_NUMBER_MAX:
        raise IssueNotFound(f"there is no issue #{number}")
    row = session.exec(
        select(Issue.id, Issue.week, Issue.subject, Issue.status).where(Issue.number == number)
    ).first()
    if row is None:
        raise IssueNotFound(f"there is no issue #{number}")
    issue_id, week, subject, status = row
    assert issue_id is not None
    record = session.get(IssueSend, issue_id)
    if record is None:
        return IssueReport(number=number, week=week, subject=subject, status=status, sent=False)
    ledger = recipient_counts(session, issue_id)
    tally = _tally(session, issue_id)
    return IssueReport(
        number=number,
        week=week,
        subject=subject,
        status=status,
        sent=True,
        started_at=record.started_at,
        finished_at=record.finished_at,
        audience=record.audience,
        **_ledger_fields(ledger),
        processed=tally.get(Tally.PROCESSED, 0),
        delivered=tally.get(Tally.DELIVERED, 0),
        deferred=tally.get(Tally.DEFERRED, 0),
        bounced_hard=tally.get(Tally.BOUNCED_HARD, 0),
        bounced_soft=tally.get(Tally.BOUNCED_SOFT, 0),
        dropped=tally.get(Tally.DROPPED, 0),
        complained=tally.get(Tally.COMPLAINED, 0),
        unsubscribed=tally.get(Tally.UNSUBSCRIBED, 0),
        unique_opens=tally.get(Tally.OPENED, 0),
        machine_opens=tally.get(Tally.MACHINE_OPENED, 0),
        unique_clicks=tally.get(Tally.CLICKED, 0),
        events=tally.get(Tally.EVENTS, 0),
        links=_links(session, issue_id, tally.get(Tally.CLICKED, 0)),
    )


def _ledger_fields(ledger: RecipientCounts) -> dict[str, int]:
    return {
        "accepted": ledger.accepted,
        "failed": ledger.failed,
        "unknown": ledger.unknown,
        "skipped": ledger.skipped,
        "queued": ledger.queued,
    }


def _tally(session: Session, issue_id: int) -> dict[str, int]:
    """The issue's counters by name (a counter no event has touched yet is absent)."""
    return {
        name: int(value)
        for name, value in session.exec(
            select(EventTally.name, EventTally.value).where(EventTally.issue_id == issue_id)
        ).all()
    }


def _links(session: Session, issue_id: int, clickers: int) -> tuple[LinkClicks, ...]:
    rows = session.exec(
        select(IssueLink.url, IssueLink.clicks)
        .where(IssueLink.issue_id == issue_id)
        .where(col(IssueLink.clicks) > 0)
        .order_by(col(IssueLink.clicks).desc(), col(IssueLink.url))
    ).all()
    return tuple(LinkClicks(url, int(clicks), share(int(clicks), clickers)) for url, clicks in rows)
