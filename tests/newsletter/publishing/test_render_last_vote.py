"""The "community voted" block closes the loop with the last issue readers actually got."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import select

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
