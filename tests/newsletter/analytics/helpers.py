"""A real send through the ledger, and the counters the event webhook would have left, for
the report's tests (here, under cli/ and under web/)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery.providers.sendgrid.backend import SendGridBackend
from newsletter.devtools.standin import StandIn
from newsletter.publishing.models import Issue
from newsletter.sending import SendProgress, SendReport, send_issue
from newsletter.sending.ledger import BatchState, settle_recipients
from newsletter.tracking.models import EventTally, IssueLink, Tally
from tests.newsletter.sending.test_sender import KEY, People, add_subscribers, build, set_status

TRACKED: Mapping[Tally, int] = {
    Tally.PROCESSED: 1,
    Tally.DEFERRED: 1,
    Tally.DELIVERED: 24,
    Tally.BOUNCED_HARD: 2,
    Tally.BOUNCED_SOFT: 1,
    Tally.DROPPED: 1,
    Tally.COMPLAINED: 1,
    Tally.UNSUBSCRIBED: 3,
    Tally.OPENED: 12,
    Tally.MACHINE_OPENED: 5,
    Tally.CLICKED: 6,
    Tally.EVENTS: 1234,
}
"""What events did to `sent_with_trouble`'s 30 accepted recipients (their latest states add
up to 30), as tracking counts them."""
LINKS: Mapping[str, int] = {
    "https://beta.example.com/": 3,
    "https://alpha.example.com/pricing?plan=team&utm_source=verdicts": 4,
    "https://vendor.example.org/": 1,
}


def send_settings(settings: Settings) -> Settings:
    """Batches of 10, one at a time, quick retries: each batch's fate is scripted."""
    settings.sendgrid_api_key = KEY
    settings.batch_size = 10
    settings.send_concurrency = 1
    settings.send_retry_base = 0.01
    settings.send_retry_max = 0.2
    settings.sendgrid_timeout = 5
    return settings


@dataclass
class Sent:
    issue: Issue
    people: People
    report: SendReport


def sent_with_trouble(
    engine: Engine, settings: Settings, standin: StandIn, root: Path, *, leave: int = 0
) -> Sent:
    """Issue #1 sent to 50 active subscribers in five batches through the stand-in: the
    first refused (400: failed), the second's answer lost (unknown), three accepted; with
    `leave`, that many of the last batch's recipients unsubscribe once the first batch is
    done (skipped)."""
    send_settings(settings)
    issue = build(engine, settings, root)
    people = add_subscribers(engine, 50)
    standin.inject("error", status=400, message="The content value must be a string")
    standin.inject("drop")
    leaving = sorted(people.active)[-leave:] if leave else []
    done = threading.Event()

    def unsubscribe_after_the_first_batch(_progress: SendProgress) -> None:
        if not done.is_set():
            done.set()
            for sid in leaving:
                set_status(engine, sid, "unsubscribed")

    report = send_issue(
        engine,
        issue.number,
        settings,
        SendGridBackend(KEY, standin.url, 5),
        on_progress=unsubscribe_after_the_first_batch,
    )
    return Sent(issue, people, report)


def track(
    engine: Engine,
    issue_id: int,
    tallies: Mapping[Tally, int] = TRACKED,
    links: Mapping[str, int] = LINKS,
) -> None:
    """Write the counters as tracking keeps them: one `event_tally` row per counter, one
    `issue_link` row per clicked URL (keyed by the SHA-256 of the URL)."""
    with session_scope(engine) as session:
        for name, value in tallies.items():
            session.add(EventTally(issue_id=issue_id, name=name.value, value=value))
        for url, clicks in links.items():
            url_hash = hashlib.sha256(url.encode()).hexdigest()
            session.add(IssueLink(issue_id=issue_id, url_hash=url_hash, url=url, clicks=clicks))


def plain_counts(engine: Engine, issue_id: int) -> dict[str, int]:
    """The ledger's recipients by state, counted the plain way (one GROUP BY)."""
    with session_scope(engine) as session:
        rows = session.connection().execute(
            text("SELECT state, COUNT(*) FROM send_recipient WHERE issue_id = :i GROUP BY state"),
            {"i": issue_id},
        )
        return {str(state): int(n) for state, n in rows}


def settle(engine: Engine, issue_id: int) -> int:
    """Settle the issue's unknown batches as tracking does once an event proves the provider
    has one of their messages (a request is accepted or refused whole): each batch becomes
    accepted, its error (which described the lost answer) cleared, its unknown recipients
    accepted with it; the counter counts them. Returns the recipients settled."""
    settled = 0
    with session_scope(engine) as session:
        conn = session.connection()
        batches = [
            int(seq)
            for (seq,) in conn.execute(
                text("SELECT seq FROM send_batch WHERE issue_id = :i AND state = 'unknown'"),
                {"i": issue_id},
            )
        ]
        for seq in batches:
            conn.execute(
                text(
                    "UPDATE send_batch SET state = 'accepted', error = NULL "
                    "WHERE issue_id = :i AND seq = :q AND state = 'unknown'"
                ),
                {"i": issue_id, "q": seq},
            )
            settled += settle_recipients(session, issue_id, seq, BatchState.ACCEPTED)
        session.add(EventTally(issue_id=issue_id, name=Tally.SETTLED.value, value=settled))
    return settled
