"""`newsletter demo`: the whole main job on the embedded defaults, safe to run again."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from newsletter.core.database import session_scope
from newsletter.core.errors import NotFound, Refused
from newsletter.core.settings import Settings
from newsletter.delivery.providers.outbox import OutboxBackend
from newsletter.publishing.content import LoadReport
from newsletter.publishing.files import write_issue_files
from newsletter.publishing.issues import build_issue
from newsletter.publishing.models import Comparison
from newsletter.publishing.weeks import week_of
from newsletter.publishing.withdrawal import load_and_withdraw
from newsletter.sending import send_issue
from newsletter.sending.ledger import SendRecipient
from newsletter.sending.message import issue_message
from subscribers.models import Source, Subscriber
from subscribers.service import add_subscriber, find_subscriber, is_forgotten

DEMO_SUBSCRIBERS = [
    ("ada@example.com", "Ada Lovelace"),
    ("grace@example.org", "Grace Hopper"),
    ("alan@example.net", "Alan Turing"),
    ("katherine@example.com", "Katherine Johnson"),
    ("linus@example.org", None),
]


class DemoRefused(Refused):
    """The demo would touch a list, a provider or a database that is not its own."""


@dataclass(frozen=True)
class DemoResult:
    load: LoadReport
    issue_number: int
    week: str
    created: bool
    subscribers_added: int
    files: dict[str, Path]
    outbox: list[Path]


def add_demo_subscribers(engine: Engine) -> int:
    """Through the list's own rules: an address already there, or forgotten, is left alone."""
    added = 0
    with session_scope(engine, immediate=True) as session:
        for email, name in DEMO_SUBSCRIBERS:
            if find_subscriber(session, email) is None and not is_forgotten(session, email):
                add_subscriber(session, email, name=name, source=Source.DEMO, confirmed=True)
                added += 1
    return added


def foreign_rows(session: Session) -> str | None:
    """What in this database the demo did not make, in words; None when it is all its own.

    Its own: subscribers it added (source `demo`) and issues sent to nobody else. Anything
    else is somebody's list: the demo would add addresses to it and, worse, mark the week's
    issue sent to it through the outbox, so the real send would never happen.
    """
    demo_ids = select(Subscriber.id).where(Subscriber.source == Source.DEMO)
    others = session.exec(
        select(func.count()).select_from(Subscriber).where(Subscriber.source != Source.DEMO)
    ).one()
    if others:
        return f"{others:,} subscriber(s) it did not add"
    sent_to_others = session.exec(
        select(func.count(func.distinct(SendRecipient.issue_id))).where(
            col(SendRecipient.subscriber_id).not_in(demo_ids)
        )
    ).one()
    if sent_to_others:
        return f"{sent_to_others:,} issue(s) sent to people other than its demo subscribers"
    return None


def check_demo_may_run(engine: Engine, settings: Settings) -> None:
    """Refuse, in one line, anywhere the demo could reach a real list."""
    if settings.environment == "production":
        raise DemoRefused("the demo does not run with NEWSLETTER_ENVIRONMENT=production")
    if settings.backend != OutboxBackend.name:
        raise DemoRefused(
            f"the demo only runs with NEWSLETTER_BACKEND=outbox (it is {settings.backend!r})"
        )
    with session_scope(engine) as session:
        found = foreign_rows(session)
    if found is not None:
        raise DemoRefused(
            f"the demo only runs on a database of its own; this one holds {found} "
            "(point NEWSLETTER_DATABASE_URL at another database)"
        )


def run_demo(engine: Engine, settings: Settings, out_dir: Path) -> DemoResult:
    """Load, add the demo list, build the newest week's issue and send it to the outbox
    through the delivery ledger, so a second run finds it sent and writes nothing.
    Refused (before anything is written) where it could touch a real list."""
    check_demo_may_run(engine, settings)
    with session_scope(engine, immediate=True) as session:
        load = load_and_withdraw(session, settings.content_dir, settings).report
    added = add_demo_subscribers(engine)
    with session_scope(engine, immediate=True) as session:
        newest = session.exec(select(Comparison).order_by(col(Comparison.published).desc())).first()
        if newest is None:
            raise NotFound(f"{settings.content_dir}: no comparisons to build an issue from")
        built = build_issue(session, week_of(newest.published), settings)
        issue = built.issue
        files = write_issue_files(issue, out_dir)
    backend = OutboxBackend(settings.outbox_dir)
    send_issue(engine, issue.number, settings, backend)
    folder = settings.outbox_dir / issue_message(issue, settings).categories[-1]
    outbox = sorted(folder.glob("*.eml"))
    return DemoResult(load, issue.number, issue.week, built.created, added, files, outbox)
