"""The list as the desk's subscriber tests need it: a few subscribers, one sent an issue
that was delivered, opened and clicked, who voted on a comparison."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import Engine
from sqlmodel import col, select

from newsletter.accounts.models import AuditEntry
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery.events import EventType
from newsletter.publishing.models import Comparison, Issue, Tool, Vote
from newsletter.tracking import ingest
from subscribers.models import Source, Status, Subscriber
from subscribers.service import add_subscriber, find_subscriber, set_status
from tests.newsletter.tracking.sends import ADDRESSES, event, send


def add_list(engine: Engine) -> dict[str, int]:
    """ada (active, with a name), grace (pending), and gone (bounced by a webhook)."""
    with session_scope(engine) as session:
        ada = add_subscriber(
            session, "ada@example.com", name="Ada Lovelace", source=Source.CLI, confirmed=True
        )
        grace = add_subscriber(session, "grace@example.org", source=Source.FORM)
        gone = add_subscriber(session, "gone@example.net", source=Source.CLI, confirmed=True)
        set_status(
            session,
            "gone@example.net",
            Status.BOUNCED,
            reason="sendgrid bounced (hard) on issue #7: 550 no such user",
            source=Source.WEBHOOK,
        )
        ids = {"ada": ada.id or 0, "grace": grace.id or 0, "gone": gone.id or 0}
    ADDRESSES.update({ids["ada"]: "ada@example.com"})
    return ids


def send_and_track(engine: Engine, settings: Settings, subscriber_id: int) -> None:
    """Issue 7 sent to every active subscriber; for this one delivered, opened, clicked."""
    send(engine, 7)
    ingest(
        engine,
        settings,
        [
            event(EventType.DELIVERED, subscriber_id, 7),
            event(EventType.OPENED, subscriber_id, 7),
            event(EventType.CLICKED, subscriber_id, 7, url="https://tools.example.com/alpha"),
        ],
    )


def vote(engine: Engine, subscriber_id: int) -> None:
    with session_scope(engine) as session:
        tool = Tool(
            slug="alpha",
            name="Alpha Tool",
            vendor="V",
            category="C",
            tagline="t",
            description="d",
            pricing_entry="Free",
            url="https://alpha.example.com/",
        )
        comparison = Comparison(
            slug="alpha-vs-beta",
            title="Alpha vs Beta",
            question="Which?",
            published=date(2026, 11, 23),
            verdict="Alpha.",
        )
        session.add_all([tool, comparison])
        session.flush()
        issue = session.exec(select(Issue).where(col(Issue.number) == 7)).one()
        session.add(
            Vote(
                subscriber_id=subscriber_id,
                issue_id=issue.id or 0,
                comparison_id=comparison.id or 0,
                tool_id=tool.id or 0,
            )
        )


def audit_actions(engine: Engine) -> list[tuple[str, str, str]]:
    with session_scope(engine) as session:
        rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.id)))
        return [
            (row.action, row.target, row.detail)
            for row in rows
            if row.action.startswith(("subscriber", "suppression"))
        ]


def status_of(engine: Engine, email: str) -> str | None:
    with session_scope(engine) as session:
        row: Subscriber | None = find_subscriber(session, email)
        return row.status if row else None


def form_csrf(html: str, action: str) -> str:
    """The CSRF token inside the form posting to `action` (not the page's other forms)."""
    found = re.search(
        rf'<form[^>]*action="{re.escape(action)}"[^>]*>\s*<input type="hidden" name="csrf" '
        r'value="([^"]+)"',
        html,
    )
    assert found, f"no form with its token posts to {action}"
    return found[1]
