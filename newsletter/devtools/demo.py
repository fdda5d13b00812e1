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
from newsletter.publishing.lifecycle import FINISHED, WENT_OUT
from newsletter.publishing.models import Comparison, Issue
from newsletter.publishing.weeks import week_of
from newsletter.publishing.withdrawal import load_and_withdraw
from newsletter.sending import send_issue
from newsletter.sending.ledger import SendRecipient
from newsletter.sending.message import issue_message
from subscribers.addresses import address_hash
from subscribers.models import ForgottenAddress, Source, Subscriber
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


def add_demo_subscribers(session: Session) -> int:
    """Through the list's own rules: an address already there, or forgotten, is left alone."""
    added = 0
    for email, name in DEMO_SUBSCRIBERS:
        if find_subscriber(session, email) is None and not is_forgotten(session, email):
            add_subscriber(session, email, name=name, source=Source.DEMO, confirmed=True)
            added += 1
    return added


def foreign_rows(session: Session) -> str | None:
    """What in this database the demo did not make, in words; None when it is all its own.

    Its own: the subscribers it added (source `demo`, or forgotten demo addresses) and the
    issues it sent to them. Anything else is somebody's list or somebody's work: the demo
    would add addresses to the list, send an editor's approved issue to its five addresses
    through the outbox (so the real send would never happen), or take a week's issue away.
    """
    others = session.exec(
        select(func.count()).select_from(Subscriber).where(Subscriber.source != Source.DEMO)
    ).one()
    if others:
        return f"{others:,} subscriber(s) it did not add"
    demo_hashes = [address_hash(email) for email, _ in DEMO_SUBSCRIBERS]
    forgotten = session.exec(
        select(func.count())
        .select_from(ForgottenAddress)
        .where(col(ForgottenAddress.email_hash).not_in(demo_hashes))
    ).one()
    if forgotten:
        return f"{forgotten:,} forgotten address(es) that were not its own"
    unsent = session.exec(
        select(func.count())
        .select_from(Issue)
        .where(col(Issue.status).not_in([status.value for status in WENT_OUT | FINISHED]))
    ).one()
    if unsent:
        return f"{unsent:,} issue(s) that it did not send (drafts, approved, held or cancelled)"
    # A demo subscriber forgotten since is no longer on the list, but was one of its own.
    forgotten_demo = session.exec(
        select(func.count())
        .select_from(ForgottenAddress)
        .where(col(ForgottenAddress.email_hash).in_(demo_hashes))
    ).one()
    demo_ids = select(Subscriber.id).where(Subscriber.source == Source.DEMO)
    strangers = (
        select(SendRecipient.issue_id)
        .where(col(SendRecipient.subscriber_id).not_in(demo_ids))
        .group_by(col(SendRecipient.issue_id))
        .having(func.count() > forgotten_demo)
        .subquery()
    )
    sent_to_others = session.exec(select(func.count()).select_from(strangers)).one()
    if sent_to_others:
        return f"{sent_to_others:,} issue(s) sent to people other than its demo subscribers"
    return None


def check_settings(settings: Settings) -> None:
    """Refuse, in one line, a configuration where the demo could reach real people."""
    if settings.environment == "production":
        raise DemoRefused("the demo does not run with NEWSLETTER_ENVIRONMENT=production")
    if settings.backend != OutboxBackend.name:
        raise DemoRefused(
            f"the demo only runs with NEWSLETTER_BACKEND=outbox (it is {settings.backend!r})"
        )


def check_database(session: Session) -> None:
    """Refuse, in one line, a database holding anything the demo did not make."""
    found = foreign_rows(session)
    if found is not None:
        raise DemoRefused(
            f"the demo only runs on a database of its own; this one holds {found} "
            "(point NEWSLETTER_DATABASE_URL at another database)"
        )


def run_demo(engine: Engine, settings: Settings, out_dir: Path) -> DemoResult:
    """Load, add the demo list, build the newest week's issue and send it to the outbox
    through the delivery ledger, so a second run finds it sent and writes nothing.

    Refused before anything is written where it could touch a real list. The check, the
    load, the demo subscribers and the build are one write transaction, so no other writer
    slips in between the check and the build."""
    check_settings(settings)
    with session_scope(engine, immediate=True) as session:
        check_database(session)
        load = load_and_withdraw(session, settings.content_dir, settings).report
        added = add_demo_subscribers(session)
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
