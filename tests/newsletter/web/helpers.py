"""Helpers for the web tests: the outbox, the database and a sent issue, seen from outside."""

from __future__ import annotations

import email
import email.policy
import time
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import Engine, func
from sqlmodel import select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery.providers.outbox import OutboxBackend
from newsletter.links.personalize import Personalizer, vote_slots
from newsletter.links.tokens import Signer
from newsletter.publishing.content import load_content
from newsletter.publishing.issues import build_issue
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.publishing.models import Issue, Vote
from newsletter.sending.message import issue_message
from newsletter.sending.signup_queue import queued
from subscribers.models import StatusChange, Subscriber
from subscribers.service import find_subscriber
from tests.factories import comparison, tool, write_content

ADMIN = {"Authorization": "Bearer admin-test-token"}


def wait_for_signups(engine: Engine, timeout: float = 10) -> None:
    """The form queues a request and answers; the app's dispatcher thread handles it.
    Once the queue is empty, what every post did to the list is committed (a confirmation
    email may still be on its way: `wait_for` it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(engine) as session:
            if queued(session) == 0:
                return
        time.sleep(0.02)
    raise AssertionError("the sign-up queue did not drain")


def wait_for(folder: Path, pattern: str, count: int = 1) -> list[Path]:
    """Confirmation emails go out after the answer (the app's dispatcher): wait for them."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = sorted(folder.rglob(pattern))
        if len(found) >= count:
            return found
        time.sleep(0.02)
    raise AssertionError(f"no {pattern} in {folder}")


def eml(path: Path) -> EmailMessage:
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def html_part(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def subscriber_of(engine: Engine, address: str) -> Subscriber | None:
    with session_scope(engine) as session:
        return find_subscriber(session, address)


def snapshot(engine: Engine) -> list[tuple]:
    """Everything a forged link could change."""
    with session_scope(engine) as session:
        subs = [(s.email, s.status, s.status_changed_at) for s in session.exec(select(Subscriber))]
        votes = [(v.subscriber_id, v.comparison_id, v.tool_id) for v in session.exec(select(Vote))]
        changes = session.exec(select(func.count()).select_from(StatusChange)).one()
    return [*subs, *votes, ("changes", changes)]


def issue_for(
    engine: Engine, settings: Settings, tmp_path: Path, week: str, slugs: list[str], published: str
) -> Issue:
    root = tmp_path / "content"
    items = [
        comparison(slug, published, tools=[tool(f"{slug}-a"), tool(f"{slug}-b")]) for slug in slugs
    ]
    write_content(root, items)
    with session_scope(engine) as session:
        load_content(session, root)
    with session_scope(engine) as session:
        issue = build_issue(session, week, settings).issue
        issue.status = IssueStatus.SENT
    return issue


def deliver(
    engine: Engine, settings: Settings, issue: Issue, addresses: list[str]
) -> dict[str, Path]:
    backend = OutboxBackend(settings.outbox_dir)
    with session_scope(engine) as session:
        personalizer = Personalizer(issue, vote_slots(issue), settings, Signer(settings.secret()))
        subs = [find_subscriber(session, a) for a in addresses]
        recipients = [personalizer.recipient(s.id or 0, s.email, s.name) for s in subs if s]
    message = issue_message(issue, settings)
    backend.send_batch(message, recipients)
    return {r.email: backend.path_for(message, r) for r in recipients}
