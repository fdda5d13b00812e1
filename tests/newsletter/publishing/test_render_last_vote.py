"""The "community voted" block closes the loop with the last issue readers actually got."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.core.sql import row_id
from newsletter.publishing import lifecycle
from newsletter.publishing.content import load_content
from newsletter.publishing.issues import build_issue, move_issue
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.publishing.models import Comparison, ComparisonTool, Vote
from tests.factories import comparison, tool, write_content


def test_a_cancelled_issue_in_between_does_not_hide_last_weeks_vote(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "content"
    write_content(
        root,
        [
            comparison("sent-one", "2026-11-09", tools=[tool("ant"), tool("bee")]),
            comparison("cancelled-one", "2026-11-16", tools=[tool("cat"), tool("dog")]),
            comparison("this-week", "2026-11-23", tools=[tool("eel"), tool("fox")]),
        ],
    )
    settings.comparisons_per_issue = 1
    with session_scope(engine) as session:
        load_content(session, root)
        sent = build_issue(session, "2026-W46", settings).issue
        lifecycle.move(session, row_id(sent.id), {IssueStatus.DRAFT}, IssueStatus.SENDING)
        lifecycle.move(session, row_id(sent.id), {IssueStatus.SENDING}, IssueStatus.SENT)
        voted = session.exec(select(Comparison).where(Comparison.slug == "sent-one")).one()
        title = voted.title
        first_tool = session.exec(
            select(ComparisonTool.tool_id)
            .where(ComparisonTool.comparison_id == voted.id)
            .where(ComparisonTool.position == 0)
        ).one()
        session.add(
            Vote(issue_id=row_id(sent.id), comparison_id=row_id(voted.id), tool_id=first_tool)
        )
    with session_scope(engine) as session:
        cancelled = build_issue(session, "2026-W47", settings).issue
        move_issue(session, cancelled.number, "cancel")
    with session_scope(engine) as session:
        latest = build_issue(session, "2026-W48", settings).issue

    assert "The community voted: issue #1" in latest.text
    assert f"{title} (1 vote)" in latest.text
    assert "The community voted: issue #1" in latest.html


def test_last_weeks_vote_follows_the_weeks_not_the_numbers(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """Week 47 is cancelled, week 48 goes out, then week 47 is built again: it takes a
    higher number (#4) than week 48's issue (#3). Its vote block is week 46's, the last
    that went out before it; week 49's is week 48's, not the rebuilt week 47's."""
    root = tmp_path / "content"
    write_content(
        root,
        [
            comparison(f"week-{week}", published, tools=[tool(f"a{week}"), tool(f"b{week}")])
            for week, published in (
                (46, "2026-11-09"),
                (47, "2026-11-16"),
                (48, "2026-11-23"),
                (49, "2026-11-30"),
            )
        ],
    )
    settings.comparisons_per_issue = 1
    with session_scope(engine) as session:
        load_content(session, root)
        w46 = _sent_with_a_vote(session, "2026-W46", "week-46", settings)
        move_issue(session, build_issue(session, "2026-W47", settings).issue.number, "cancel")
        w48 = _sent_with_a_vote(session, "2026-W48", "week-48", settings)
    with session_scope(engine) as session:
        rebuilt = build_issue(session, "2026-W47", settings).issue
        assert (w46, w48, rebuilt.number) == (1, 3, 4)
        _send(session, row_id(rebuilt.id))
    with session_scope(engine) as session:
        w49 = build_issue(session, "2026-W49", settings).issue

    assert "The community voted: issue #1" in rebuilt.text
    assert "A46 vs B46 (1 vote)" in rebuilt.text
    assert "The community voted: issue #3" in w49.text
    assert "A48 vs B48 (1 vote)" in w49.text


def _send(session: Session, issue_id: int) -> None:
    lifecycle.move(session, issue_id, {IssueStatus.DRAFT}, IssueStatus.SENDING)
    lifecycle.move(session, issue_id, {IssueStatus.SENDING}, IssueStatus.SENT)


def _sent_with_a_vote(session: Session, week: str, slug: str, settings: Settings) -> int:
    """Build `week`'s issue, send it, and record one vote for `slug`'s first tool in it."""
    issue = build_issue(session, week, settings).issue
    _send(session, row_id(issue.id))
    voted = session.exec(select(Comparison).where(Comparison.slug == slug)).one()
    first_tool = session.exec(
        select(ComparisonTool.tool_id)
        .where(ComparisonTool.comparison_id == voted.id)
        .where(ComparisonTool.position == 0)
    ).one()
    session.add(Vote(issue_id=row_id(issue.id), comparison_id=row_id(voted.id), tool_id=first_tool))
    session.flush()
    return issue.number
