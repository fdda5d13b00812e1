"""Changing an issue's stored snapshot the way nothing in the service may: straight in SQL,
as a stray UPDATE or a restored backup would, to see what the gate makes of it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, column, table, update
from sqlmodel import Session, select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery import placeholders
from newsletter.publishing.issues import approve_issue, move_issue
from newsletter.publishing.models import Issue

CLIP = 110 * 1024
"""Bytes that take any issue past Gmail's clipping line (the size check errs above 100 KiB)."""


def stored(engine: Engine, number: int) -> Issue:
    with session_scope(engine) as session:
        issue = session.exec(select(Issue).where(Issue.number == number)).one()
        session.expunge(issue)
        return issue


def tamper(engine: Engine, number: int, **columns: Any) -> None:
    """Set columns of issue `number` behind the service's back (a plain UPDATE)."""
    issue = table("issue", column("number"), *(column(name) for name in columns))
    with session_scope(engine) as session:
        session.connection().execute(
            update(issue).where(issue.c.number == number).values(**columns)
        )


def broken(kind: str, issue: Issue) -> dict[str, str]:
    """The columns that give `issue` one error the editor's checks find."""
    if kind == "subject":
        return {"subject": issue.subject + "\nBcc: everyone@example.com"}
    if kind == "unsubscribe":
        return {"html": issue.html.replace(placeholders.UNSUBSCRIBE, "https://example.com/")}
    if kind == "size":
        return {"html": issue.html.replace("</body>", f"<!-- {'x' * CLIP} --></body>")}
    raise ValueError(kind)


ERRORS = {
    "subject": "subject: the subject line contains a line break",
    "unsubscribe": "footer: the HTML has no unsubscribe link",
    "size": "size: HTML is ",
}
"""What the refusal names for each kind of `broken`."""


def decide(session: Session, number: int, action: str, settings: Settings) -> Issue:
    """An editor's decision by name: approving goes through the checks, the others move."""
    if action == "approve":
        return approve_issue(session, number, settings)
    return move_issue(session, number, action)
