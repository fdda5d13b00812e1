"""The issue list's one-statement counts agree with the ledger's own, issue by issue."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, event
from sqlmodel import select

from newsletter.core.database import session_scope
from newsletter.publishing.content import load_content
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.publishing.models import Comparison, Issue, IssueComparison
from newsletter.sending.ledger import (
    IssueSend,
    RecipientState,
    SendRecipient,
    ledger_counts,
    make_room,
)
from newsletter.sending.overview import issue_overview
from tests.factories import comparison, write_content

# issue number -> (status, reason, comparisons held, recipients by state)
ISSUES: dict[int, tuple[IssueStatus, str | None, int, dict[RecipientState, int]]] = {
    1: (
        IssueStatus.SENT,
        None,
        2,
        {
            RecipientState.ACCEPTED: 7,
            RecipientState.FAILED: 2,
            RecipientState.UNKNOWN: 3,
            RecipientState.SKIPPED: 1,
        },
    ),
    2: (
        IssueStatus.PAUSED,
        "stopped: SendGrid answered 401",
        1,
        {RecipientState.ACCEPTED: 4, RecipientState.QUEUED: 5},
    ),
    3: (IssueStatus.HELD, "waiting for a vendor reply", 1, {}),
    4: (IssueStatus.DRAFT, None, 0, {}),
}


def _issues(engine: Engine, root: Path) -> None:
    write_content(root, [comparison(f"c{i}", "2026-11-23") for i in range(4)])
    with session_scope(engine) as session:
        load_content(session, root)
    with session_scope(engine) as session:
        pool = [c.id or 0 for c in session.exec(select(Comparison)).all()]
        subscriber = 0
        for number, (status, reason, held, states) in ISSUES.items():
            issue = Issue(number=number, week=f"2026-W{40 + number}", status=status)
            issue.status_reason = reason
            session.add(issue)
            session.flush()
            issue_id = issue.id or 0
            for position in range(held):
                session.add(
                    IssueComparison(issue_id=issue_id, comparison_id=pool.pop(), position=position)
                )
            if not states:
                continue
            session.add(IssueSend(issue_id=issue_id, audience=sum(states.values()), batch_size=10))
            make_room(session.connection(), issue_id)
            for state, count in states.items():
                for _ in range(count):
                    subscriber += 1
                    session.add(
                        SendRecipient(
                            issue_id=issue_id, subscriber_id=subscriber, batch_seq=1, state=state
                        )
                    )


def test_the_overview_agrees_with_the_ledger_in_one_statement(
    engine: Engine, tmp_path: Path
) -> None:
    _issues(engine, tmp_path / "content")
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    with session_scope(engine) as session:
        session.connection()  # the session's own setup is not the overview's
        event.listen(engine, "before_cursor_execute", count)
        try:
            rows = issue_overview(session, limit=10)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert len(statements) == 1, statements
        assert [row.number for row in rows] == [4, 3, 2, 1]
        for row in rows:
            issue = session.exec(select(Issue).where(Issue.number == row.number)).one()
            counts = ledger_counts(session, issue)
            assert (row.status, row.status_reason) == (counts.status, counts.status_reason)
            assert (row.accepted, row.unknown, row.failed) == (
                counts.accepted,
                counts.unknown,
                counts.failed,
            )
            status, _, held, _ = ISSUES[row.number]
            assert (row.status, row.comparisons) == (status, held)
            assert row.week == issue.week
    first = rows[-1]
    assert (first.accepted, first.unknown, first.failed) == (7, 3, 2)


def test_the_limit_keeps_the_newest(engine: Engine, tmp_path: Path) -> None:
    _issues(engine, tmp_path / "content")
    with session_scope(engine) as session:
        newest = issue_overview(session, limit=2)
        assert [(row.number, row.comparisons) for row in newest] == [(4, 0), (3, 1)]
        assert issue_overview(session, limit=0) == []
