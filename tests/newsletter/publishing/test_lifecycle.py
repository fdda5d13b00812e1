"""One transition table, one compare-and-set: racing writers win or lose cleanly, a pause
carries its cause, and a move the table does not allow is a programming error."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.core.database import session_scope
from newsletter.core.sql import row_id
from newsletter.publishing import lifecycle
from newsletter.publishing.lifecycle import (
    EDITABLE,
    TRANSITIONS,
    IllegalTransition,
    IssueStatus,
    PauseCause,
)
from newsletter.publishing.models import Issue


def _issue(engine: Engine, status: IssueStatus) -> int:
    with session_scope(engine) as session:
        issue = Issue(number=1, week="2026-W48", status=status)
        session.add(issue)
        session.flush()
        return row_id(issue.id)


def _row(engine: Engine, issue_id: int) -> Issue:
    with session_scope(engine) as session:
        found = session.get(Issue, issue_id)
        assert found is not None
        return found


def test_every_status_has_a_row_and_the_sets_name_real_moves() -> None:
    assert set(TRANSITIONS) == set(IssueStatus)
    assert TRANSITIONS[IssueStatus.CANCELLED] == frozenset()
    for status in lifecycle.STARTABLE:
        assert IssueStatus.SENDING in TRANSITIONS[status]
    assert not EDITABLE & (lifecycle.SENDING | lifecycle.FINISHED | lifecycle.PAUSED)


def test_a_move_happens_once_and_the_loser_learns_it(engine: Engine) -> None:
    issue_id = _issue(engine, IssueStatus.APPROVED)
    with session_scope(engine) as session:
        assert lifecycle.move(session, issue_id, lifecycle.STARTABLE, IssueStatus.SENDING)
        assert not lifecycle.move(session, issue_id, lifecycle.STARTABLE, IssueStatus.SENDING)
    assert _row(engine, issue_id).status == IssueStatus.SENDING


def test_a_pause_stores_its_cause_and_the_next_move_clears_it(engine: Engine) -> None:
    issue_id = _issue(engine, IssueStatus.SENDING)
    with session_scope(engine) as session:
        assert lifecycle.move(
            session,
            issue_id,
            lifecycle.SENDING,
            IssueStatus.PAUSED,
            reason="x" * 2000,
            cause=PauseCause.STOP_REQUESTED,
        )
    paused = _row(engine, issue_id)
    assert (paused.pause_cause, len(paused.status_reason or "")) == ("stop_requested", 1000)
    with session_scope(engine) as session:
        assert lifecycle.move(session, issue_id, lifecycle.PAUSED, IssueStatus.SENDING)
    resumed = _row(engine, issue_id)
    assert (resumed.status, resumed.pause_cause, resumed.status_reason) == (
        IssueStatus.SENDING,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("allowed", "to", "cause"),
    [
        ({IssueStatus.CANCELLED}, IssueStatus.SENDING, None),
        ({IssueStatus.SENT, IssueStatus.HELD}, IssueStatus.SENDING, None),
        ({IssueStatus.SENDING}, IssueStatus.PAUSED, None),  # a pause needs its cause
        ({IssueStatus.SENDING}, IssueStatus.SENT, PauseCause.REFUSED),  # only a pause has one
        (set(), IssueStatus.SENDING, None),
    ],
)
def test_a_move_the_table_does_not_allow_is_a_bug(
    engine: Engine, allowed: set[IssueStatus], to: IssueStatus, cause: PauseCause | None
) -> None:
    issue_id = _issue(engine, IssueStatus.CANCELLED)
    with Session(engine) as session, pytest.raises(IllegalTransition):
        lifecycle.move(session, issue_id, allowed, to, cause=cause)


def test_lock_while_checks_the_status_in_the_same_statement(engine: Engine) -> None:
    issue_id = _issue(engine, IssueStatus.DRAFT)
    with session_scope(engine) as session:
        assert lifecycle.lock_while(session, issue_id, EDITABLE)
        assert not lifecycle.lock_while(session, issue_id, lifecycle.FINISHED)
    assert _row(engine, issue_id).status == IssueStatus.DRAFT
