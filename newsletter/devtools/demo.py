"""`newsletter demo`: the whole main job on the embedded defaults, safe to run again."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import col, select

from newsletter.core.database import session_scope
from newsletter.core.errors import NotFound
from newsletter.core.settings import Settings
from newsletter.delivery.providers.outbox import OutboxBackend
from newsletter.publishing.content import LoadReport, load_content
from newsletter.publishing.files import write_issue_files
from newsletter.publishing.issues import build_issue
from newsletter.publishing.models import Comparison
from newsletter.publishing.weeks import week_of
from newsletter.sending import send_issue
from newsletter.sending.message import issue_message
from subscribers.models import Source
from subscribers.service import add_subscriber, find_subscriber, is_forgotten

DEMO_SUBSCRIBERS = [
    ("ada@example.com", "Ada Lovelace"),
    ("grace@example.org", "Grace Hopper"),
    ("alan@example.net", "Alan Turing"),
    ("katherine@example.com", "Katherine Johnson"),
    ("linus@example.org", None),
]


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


def run_demo(engine: Engine, settings: Settings, out_dir: Path) -> DemoResult:
    """Load, add the demo list, build the newest week's issue and send it to the outbox
    through the delivery ledger, so a second run finds it sent and writes nothing."""
    with session_scope(engine, immediate=True) as session:
        load = load_content(session, settings.content_dir)
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
