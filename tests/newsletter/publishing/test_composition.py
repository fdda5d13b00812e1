"""The editor decides what a draft holds: add, remove and move, each re-rendered at once,
each refused with a reason when the rules say no."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from newsletter.core.clock import utcnow
from newsletter.core.database import make_engine, session_scope
from newsletter.core.errors import Conflict, InvalidInput, NotFound
from newsletter.core.settings import Settings
from newsletter.core.sql import row_id
from newsletter.publishing import lifecycle
from newsletter.publishing.composition import (
    add_comparison,
    move_comparison,
    remove_comparison,
)
from newsletter.publishing.content import load_content
from newsletter.publishing.issues import build_issue, get_issue, move_issue
from newsletter.publishing.lifecycle import STARTABLE, IssueStatus
from newsletter.publishing.models import Comparison, Issue, IssueComparison
from tests.factories import comparison, write_content
from tests.newsletter.publishing.helpers import decide

# Four comparisons in 2026-W48's window, one long before it (outside any pick of W48).
DATES = {"a": "2026-11-27", "b": "2026-11-26", "c": "2026-11-25", "d": "2026-11-24"}
OLD = "2026-06-01"


@pytest.fixture
def draft(engine: Engine, settings: Settings, tmp_path: Path) -> int:
    """Issue #1 for 2026-W48, a draft holding a, b (the pick takes two); c, d and old free."""
    items = [comparison(slug, day) for slug, day in DATES.items()]
    write_content(tmp_path / "content", [*items, comparison("old", OLD)])
    settings.comparisons_per_issue = 2
    with session_scope(engine) as session:
        load_content(session, tmp_path / "content")
        return build_issue(session, "2026-W48", settings).issue.number


def held(engine: Engine, number: int) -> list[tuple[int, str]]:
    """(stored position, slug) of an issue's comparisons, in order."""
    with session_scope(engine) as session:
        rows = session.exec(
            select(IssueComparison.position, Comparison.slug)
            .join(Comparison, col(Comparison.id) == IssueComparison.comparison_id)
            .join(Issue, col(Issue.id) == IssueComparison.issue_id)
            .where(Issue.number == number)
            .order_by(col(IssueComparison.position))
        ).all()
    return [(position, slug) for position, slug in rows]


def issue(engine: Engine, number: int) -> Issue:
    with session_scope(engine) as session:
        return get_issue(session, number)


def test_add_puts_any_free_comparison_in_and_re_renders(
    engine: Engine, settings: Settings, draft: int
) -> None:
    before = issue(engine, draft)
    with session_scope(engine) as session:  # outside the pick window: the editor decides
        result = add_comparison(session, draft, "old", settings)
    assert result.changed
    assert [(h.position, h.slug) for h in result.held] == [(1, "a"), (2, "b"), (3, "old")]
    assert held(engine, draft) == [(0, "a"), (1, "b"), (2, "old")]
    after = issue(engine, draft)
    assert "Old A vs Old B" in after.html
    assert "Old A vs Old B" in after.text
    assert after.subject == result.subject == "Verdicts #1: A A vs A B (+2 more)"
    assert after.content_hash != before.content_hash
    # Over NEWSLETTER_COMPARISONS_PER_ISSUE (2): allowed, and said.
    assert result.over_limit
    assert result.limit == 2

    with session_scope(engine) as session:  # at a place of the editor's choosing
        first = add_comparison(session, draft, "c", settings, position=1)
    assert [h.slug for h in first.held] == ["c", "a", "b", "old"]
    assert held(engine, draft) == [(0, "c"), (1, "a"), (2, "b"), (3, "old")]
    assert issue(engine, draft).subject == "Verdicts #1: C A vs C B (+3 more)"

    rendered = issue(engine, draft).rendered_at
    with session_scope(engine) as session:  # already there: nothing changes
        again = add_comparison(session, draft, "c", settings)
    assert not again.changed
    assert issue(engine, draft).rendered_at == rendered
    assert held(engine, draft) == [(0, "c"), (1, "a"), (2, "b"), (3, "old")]


def test_a_comparison_released_by_a_cancelled_issue_can_go_out_elsewhere(
    engine: Engine, settings: Settings, draft: int
) -> None:
    with session_scope(engine) as session:
        move_issue(session, draft, "cancel")
        later = build_issue(session, "2026-W49", settings).issue.number
    assert [slug for _, slug in held(engine, later)] == ["a", "b"]  # the pick took them back
    with session_scope(engine) as session:
        result = add_comparison(session, later, "d", settings, position=2)
    assert [h.slug for h in result.held] == ["a", "d", "b"]


def test_add_is_refused_for_a_comparison_in_another_issue_withdrawn_or_unknown(
    engine: Engine, settings: Settings, draft: int
) -> None:
    with session_scope(engine) as session:
        other = build_issue(session, "2026-W49", settings).issue.number  # takes c, d
    with (
        session_scope(engine) as session,
        pytest.raises(Conflict, match=r"cannot add 'c' to issue #1: it is in issue #2 ") as refused,
    ):
        add_comparison(session, draft, "c", settings)
    assert "(2026-W49, draft); `newsletter issue remove 2 c` first" in str(refused.value)
    with session_scope(engine) as session:
        decide(session, other, "approve", settings)
    with (
        session_scope(engine) as session,
        pytest.raises(Conflict, match=r"`newsletter issue unapprove 2`, then `newsletter issue"),
    ):
        add_comparison(session, draft, "c", settings)

    with session_scope(engine) as session:  # its file was deleted (see test_withdrawal)
        session.exec(
            select(Comparison).where(Comparison.slug == "old")
        ).one().withdrawn_at = utcnow()
    with (
        session_scope(engine) as session,
        pytest.raises(Conflict, match="cannot add 'old' to issue #1: it was withdrawn"),
    ):
        add_comparison(session, draft, "old", settings)
    with (
        session_scope(engine) as session,
        pytest.raises(NotFound, match="there is no comparison 'nope'"),
    ):
        add_comparison(session, draft, "nope", settings)
    with session_scope(engine) as session, pytest.raises(NotFound, match="no issue #9"):
        add_comparison(session, 9, "old", settings)
    assert held(engine, draft) == [(0, "a"), (1, "b")]


@pytest.mark.parametrize("action", ["approve", "hold"])
def test_an_approved_or_held_issue_is_frozen(
    engine: Engine, settings: Settings, draft: int, action: str
) -> None:
    with session_scope(engine) as session:
        decide(session, draft, action, settings)
    before = issue(engine, draft)
    status = "approved" if action == "approve" else "held"
    expected = (
        f"issue #1 is {status}: its contents are frozen; run `newsletter issue unapprove 1` first"
    )
    for change in (
        lambda s: add_comparison(s, draft, "c", settings),
        lambda s: remove_comparison(s, draft, "b", settings),
        lambda s: move_comparison(s, draft, "b", 1, settings),
    ):
        with session_scope(engine) as session, pytest.raises(Conflict) as refused:
            change(session)
        assert str(refused.value) == expected
    assert held(engine, draft) == [(0, "a"), (1, "b")]
    assert issue(engine, draft).content_hash == before.content_hash


def test_an_issue_that_went_out_cannot_change(
    engine: Engine, settings: Settings, draft: int
) -> None:
    with session_scope(engine) as session:
        session.exec(select(Issue).where(Issue.number == draft)).one().status = IssueStatus.SENT
    with (
        session_scope(engine) as session,
        pytest.raises(Conflict, match="issue #1 is sent: only a draft issue can change"),
    ):
        remove_comparison(session, draft, "a", settings)
    assert held(engine, draft) == [(0, "a"), (1, "b")]


def test_remove_closes_the_gap_and_keeps_the_last_one(
    engine: Engine, settings: Settings, draft: int
) -> None:
    with session_scope(engine) as session:
        add_comparison(session, draft, "c", settings)
    with session_scope(engine) as session:
        result = remove_comparison(session, draft, "b", settings)
    assert [(h.position, h.slug) for h in result.held] == [(1, "a"), (2, "c")]
    assert held(engine, draft) == [(0, "a"), (1, "c")]
    assert "B A vs B B" not in issue(engine, draft).html
    with session_scope(engine) as session:  # free again: another issue may take it
        assert build_issue(session, "2026-W49", settings).issue.number == 2
    assert [slug for _, slug in held(engine, 2)] == ["b", "d"]

    with (
        session_scope(engine) as session,
        pytest.raises(NotFound, match=r"issue #1 does not hold 'b' \(it holds: a, c\)"),
    ):
        remove_comparison(session, draft, "b", settings)
    with session_scope(engine) as session:
        remove_comparison(session, draft, "a", settings)
    with (
        session_scope(engine) as session,
        pytest.raises(Conflict, match="it is the only comparison in issue #1") as refused,
    ):
        remove_comparison(session, draft, "c", settings)
    assert "`newsletter issue cancel 1`" in str(refused.value)
    assert held(engine, draft) == [(0, "c")]


def test_move_reorders_and_re_renders(engine: Engine, settings: Settings, draft: int) -> None:
    with session_scope(engine) as session:
        add_comparison(session, draft, "c", settings)
    with session_scope(engine) as session:
        result = move_comparison(session, draft, "c", 1, settings)
    assert result.changed
    assert held(engine, draft) == [(0, "c"), (1, "a"), (2, "b")]
    assert issue(engine, draft).subject == "Verdicts #1: C A vs C B (+2 more)"
    with session_scope(engine) as session:
        move_comparison(session, draft, "c", 3, settings)
    assert held(engine, draft) == [(0, "a"), (1, "b"), (2, "c")]
    with session_scope(engine) as session:
        assert not move_comparison(session, draft, "c", 3, settings).changed
    for position in (0, 4, -1):
        with (
            session_scope(engine) as session,
            pytest.raises(
                InvalidInput, match=f"position {position} is outside issue #1: "
            ) as refused,
        ):
            move_comparison(session, draft, "c", position, settings)
        assert str(refused.value).endswith("choose one from 1 to 3")
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="from 1 to 4"):
        add_comparison(session, draft, "d", settings, position=5)
    with session_scope(engine) as session, pytest.raises(NotFound, match="does not hold 'd'"):
        move_comparison(session, draft, "d", 1, settings)
    assert held(engine, draft) == [(0, "a"), (1, "b"), (2, "c")]


def test_a_change_holds_the_issue_row_until_it_commits(
    engine: Engine, settings: Settings, draft: int, database_url: str
) -> None:
    """A send that starts while an editor's change is under way waits for it: the change
    and its re-render are one transaction under the issue's row lock."""
    impatient = _impatient_engine(database_url)
    try:
        with session_scope(engine) as session:
            add_comparison(session, draft, "c", settings)
            issue_id = row_id(get_issue(session, draft).id)
            with Session(impatient) as sender:
                if impatient.dialect.name == "postgresql":
                    sender.execute(text("SET LOCAL lock_timeout = '200ms'"))
                with pytest.raises(OperationalError):
                    lifecycle.move(sender, issue_id, STARTABLE, IssueStatus.SENDING)
        with Session(impatient) as sender:  # once committed, the send starts from the result
            assert lifecycle.move(sender, issue_id, STARTABLE, IssueStatus.SENDING)
            sender.commit()
    finally:
        impatient.dispose()
    assert "C A vs C B" in issue(engine, draft).html
    with session_scope(engine) as session, pytest.raises(Conflict, match="is sending"):
        add_comparison(session, draft, "d", settings)


def _impatient_engine(database_url: str) -> Engine:
    """A second writer that gives up after a fraction of a second instead of waiting."""
    if database_url.startswith("sqlite"):
        engine = make_engine(database_url)

        @event.listens_for(engine, "connect")
        def _short(dbapi_connection: object, _record: object) -> None:
            cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA busy_timeout=200")
            cursor.close()

        return engine
    return make_engine(database_url)
