"""The vote pages' kept comparisons (`ComparisonViews`): reused while the comparison is as
it was, built again once a content reload changes it, and never keeping the community
figures, which each page counts."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import col, select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.links.recipient import vote_token_for
from newsletter.links.tokens import Signer
from newsletter.publishing.content import load_content
from newsletter.publishing.models import ComparisonTool, Tool
from newsletter.sending.voting import ComparisonViews, read_vote_link, vote_by_link
from tests.factories import comparison, tool, write_comparison
from tests.newsletter.web.helpers import issue_for
from tests.newsletter.web.link_kinds import subscriber_id


def _vote_token(settings: Settings, issue_id: int, sid: int, engine: Engine, slug: str) -> str:
    signer = Signer(settings.secret())
    with session_scope(engine) as session:
        comparison_id, tool_id = session.exec(
            select(ComparisonTool.comparison_id, ComparisonTool.tool_id)
            .join(Tool, col(Tool.id) == col(ComparisonTool.tool_id))
            .where(col(Tool.slug) == slug)
        ).one()
    return vote_token_for(
        signer, signer.recipient_token(sid, issue_id), str(comparison_id), str(tool_id)
    )


def test_a_kept_comparison_is_reused_until_a_reload_changes_it(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    issue = issue_for(engine, settings, tmp_path, "2026-W30", ["kept"], "2026-07-20")
    reader, other = (subscriber_id(engine, f"{who}@example.com") for who in ("reader", "other"))
    signer, views = Signer(settings.secret()), ComparisonViews(settings)
    token = _vote_token(settings, issue.id or 0, reader, engine, "kept-a")

    with session_scope(engine) as session:
        first = read_vote_link(session, signer, token, views)
    with session_scope(engine) as session:
        again = read_vote_link(session, signer, token, views)
    assert first.comparison.title == "Kept A vs Kept B"
    assert first.voted_for is None
    assert again.comparison.votes == 0

    # the community figures move at once, the kept part does not need to be built again
    with session_scope(engine, immediate=True) as session:
        cast = vote_by_link(session, signer, token, views)
    assert cast.changed
    assert cast.voted_for is not None
    assert cast.voted_for.slug == "kept-a"
    assert cast.comparison.votes == 1
    assert [t.community_share for t in cast.comparison.tools] == ["100%", "0%"]
    other_token = _vote_token(settings, issue.id or 0, other, engine, "kept-b")
    with session_scope(engine) as session:
        seen = read_vote_link(session, signer, other_token, views)
    assert seen.comparison.votes == 1
    assert seen.voted_for is None

    # an editor renames the comparison: the next page shows the new title
    renamed = comparison(
        "kept", "2026-07-20", tools=[tool("kept-a"), tool("kept-b")], title="Renamed"
    )
    write_comparison(tmp_path / "content", renamed)
    with session_scope(engine) as session:
        load_content(session, tmp_path / "content")
    with session_scope(engine) as session:
        after = read_vote_link(session, signer, token, views)
    assert after.comparison.title == "Renamed"
    assert after.comparison.votes == 1
    assert after.voted_for is not None


def test_a_second_click_on_the_same_tool_changes_nothing_and_another_tool_moves_the_vote(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    issue = issue_for(engine, settings, tmp_path, "2026-W30", ["twice"], "2026-07-20")
    reader = subscriber_id(engine, "reader@example.com")
    signer, views = Signer(settings.secret()), ComparisonViews(settings)
    a = _vote_token(settings, issue.id or 0, reader, engine, "twice-a")
    b = _vote_token(settings, issue.id or 0, reader, engine, "twice-b")
    answers = []
    for token in (a, a, b):
        with session_scope(engine, immediate=True) as session:
            answers.append(vote_by_link(session, signer, token, views))
    assert [x.changed for x in answers] == [True, False, True]
    assert [x.comparison.votes for x in answers] == [1, 1, 1]
    assert [x.voted_for.slug if x.voted_for else None for x in answers] == [
        "twice-a",
        "twice-a",
        "twice-b",
    ]
