"""An issue for the desk's tests, built as the CLI builds one, and what the tests read back
from the database: its status and the audit log."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Engine, text
from sqlmodel import col, select

from newsletter.accounts.models import AuditEntry
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.publishing.issues import get_issue
from newsletter.publishing.models import Issue
from tests.newsletter.sending.test_sender import build


def built(engine: Engine, settings: Settings, tmp_path: Path) -> Issue:
    """Issue #1 (2026-W48), a draft of three comparisons that passes the checks."""
    return build(engine, settings, tmp_path / "content")


def status(engine: Engine, number: int = 1) -> str:
    with session_scope(engine) as session:
        return get_issue(session, number).status


def audited(engine: Engine) -> list[tuple[str, str, str, str]]:
    """(actor, action, target, detail) of every entry about an issue."""
    with session_scope(engine) as session:
        rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
        return [
            (r.actor, r.action, r.target, r.detail) for r in rows if r.action.startswith("issue")
        ]


def break_subject(engine: Engine, number: int = 1) -> None:
    """A subject with a line break: the checks find an error, so approving is refused."""
    with session_scope(engine) as session:
        session.connection().execute(
            text("UPDATE issue SET subject = :s WHERE number = :n"),
            {"s": "Broken\nsubject", "n": number},
        )


def wait_for_status(engine: Engine, wanted: str, number: int = 1, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    found = status(engine, number)
    while found != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
        found = status(engine, number)
    return found
