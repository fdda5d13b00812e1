"""The week's pick rule at its boundaries, and one live issue per week."""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from newsletter.core.clock import utcnow
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.publishing.content import load_content
from newsletter.publishing.gate import ChecksFailed, snapshot_hash
from newsletter.publishing.issues import (
    IssueConflict,
    IssueError,
    IssueNotFound,
    NothingToPick,
    approve_issue,
    build_issue,
    get_issue,
    issue_for_week,
    move_issue,
    pick_comparisons,
    rerender_issue,
    week_issue,
)
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.publishing.models import Comparison, Issue, IssueComparison
from newsletter.publishing.weeks import WeekError, parse_week, week_bounds, week_of
from tests.factories import comparison, write_content
from tests.newsletter.publishing.helpers import broken, stored, tamper


def test_iso_weeks_across_the_year_boundary() -> None:
    assert week_of(date(2026, 11, 23)) == "2026-W48"
    assert week_of(date(2026, 11, 29)) == "2026-W48"
    assert week_of(date(2026, 11, 30)) == "2026-W49"
    assert week_of(date(2027, 1, 1)) == "2026-W53"
    assert week_of(date(2027, 1, 4)) == "2027-W01"
    assert week_bounds("2026-W53") == (date(2026, 12, 28), date(2027, 1, 3))
    assert parse_week(" 2026-W05 ") == "2026-W05"
    for bad in ["2026-48", "2026-W54", "2025-W53", "W48", ""]:
        with pytest.raises(WeekError):
            parse_week(bad)


def _load(engine: Engine, root: Path, published: dict[str, str]) -> None:
    write_content(root, [comparison(slug, day) for slug, day in published.items()])
    with session_scope(engine) as session:
        load_content(session, root)


def _pick(engine: Engine, week: str, limit: int = 10) -> list[str]:
    with session_scope(engine) as session:
        return [c.slug for c in pick_comparisons(session, week, limit)]


def test_pick_rule_boundaries(engine: Engine, tmp_path: Path) -> None:
    _load(
        engine,
        tmp_path / "content",
        {
            "next-monday": "2026-11-30",  # after the week ends: not yet
            "sunday": "2026-11-29",  # last day of 2026-W48: in
            "monday": "2026-11-23",
            "same-day-b": "2026-11-25",
            "same-day-a": "2026-11-25",  # same date: ordered by slug
            "four-weeks": "2026-10-26",  # Monday minus 28 days: in
            "too-old": "2026-10-25",  # one day earlier: out
        },
    )
    assert _pick(engine, "2026-W48") == [
        "sunday",
        "same-day-a",
        "same-day-b",
        "monday",
        "four-weeks",
    ]
    assert _pick(engine, "2026-W48", limit=2) == ["sunday", "same-day-a"]
    assert _pick(engine, "2026-W49") == [
        "next-monday",
        "sunday",
        "same-day-a",
        "same-day-b",
        "monday",
    ]


def test_a_comparison_goes_into_one_issue_only(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    _load(engine, tmp_path / "content", {f"c{i}": f"2026-11-{20 + i}" for i in range(5)})
    settings.comparisons_per_issue = 3
    with session_scope(engine) as session:
        first = build_issue(session, "2026-W48", settings)
    assert first.created
    with session_scope(engine) as session:
        second = build_issue(session, "2026-W49", settings)
        again = build_issue(session, "2026-W48", settings)
        assert not again.created
        assert again.issue.number == first.issue.number
        links = session.exec(
            select(IssueComparison).order_by(
                col(IssueComparison.issue_id), col(IssueComparison.position)
            )
        ).all()
    by_issue: dict[int, list[int]] = {}
    for link in links:
        by_issue.setdefault(link.issue_id, []).append(link.comparison_id)
    assert [len(v) for v in by_issue.values()] == [3, 2]
    assert len({c for v in by_issue.values() for c in v}) == 5
    assert (first.issue.number, second.issue.number) == (1, 2)
    assert first.issue.status == IssueStatus.DRAFT
    with (
        session_scope(engine) as session,
        pytest.raises(NothingToPick, match="no issue for 2026-W50"),
    ):
        build_issue(session, "2026-W50", settings)


def test_the_snapshot_is_frozen_once_sending_starts(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    _load(engine, tmp_path / "content", {"one": "2026-11-24"})
    with session_scope(engine) as session:
        issue = build_issue(session, "2026-W48", settings).issue
        issue.status = IssueStatus.SENDING
        with pytest.raises(IssueError, match="frozen"):
            rerender_issue(session, issue, settings)


def test_editor_transitions_and_refusals(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    root = write_content(tmp_path / "content", [comparison("one", "2026-11-23")])
    from newsletter.publishing.content import load_content

    with session_scope(engine) as session:
        load_content(session, root)
        number = build_issue(session, "2026-W48", settings).issue.number

    def move(action: str) -> str:
        with session_scope(engine) as session:
            if action == "approve":
                return approve_issue(session, number, settings).status
            return move_issue(session, number, action).status

    assert move("hold") == IssueStatus.HELD
    assert move("approve") == IssueStatus.APPROVED
    assert move("approve") == IssueStatus.APPROVED  # idempotent
    assert move("hold") == IssueStatus.HELD
    assert move("cancel") == IssueStatus.CANCELLED
    for action in ("approve", "hold"):
        with pytest.raises(IssueError, match=f"cannot {action} issue #1: it is cancelled"):
            move(action)
    with session_scope(engine) as session:  # the comparison is free for another week
        assert session.exec(select(IssueComparison)).all() == []
        assert build_issue(session, "2026-W49", settings).created
    with session_scope(engine) as session:
        issue = session.exec(select(Issue).where(Issue.number == 2)).one()
        issue.status = IssueStatus.SENDING
    with session_scope(engine) as session, pytest.raises(IssueError, match="it is sending"):
        move_issue(session, 2, "cancel")
    with session_scope(engine) as session, pytest.raises(IssueError, match="there is no issue #9"):
        approve_issue(session, 9, settings)


def test_a_cancelled_issue_frees_its_week_and_stays_in_the_history(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    _load(engine, tmp_path / "content", {"one": "2026-11-24", "two": "2026-11-25"})
    with session_scope(engine) as session:
        first = build_issue(session, "2026-W48", settings).issue
        move_issue(session, first.number, "cancel")
    with session_scope(engine) as session:
        assert issue_for_week(session, "2026-W48") is None
        with pytest.raises(IssueNotFound) as missing:
            week_issue(session, "2026-W48")
        assert str(missing.value) == (
            "there is no issue for 2026-W48 (issue #1 was cancelled); build it first"
        )
        rebuilt = build_issue(session, "2026-W48", settings)
    assert rebuilt.created
    assert rebuilt.issue.number == 2
    with session_scope(engine) as session:
        assert week_issue(session, "2026-W48").number == 2
        again = build_issue(session, "2026-W48", settings)  # one live issue per week
        assert (again.created, again.issue.number) == (False, 2)
        statuses = [
            (i.number, i.week, i.status)
            for i in session.exec(select(Issue).order_by(col(Issue.number)))
        ]
        picked = session.exec(
            select(IssueComparison.comparison_id).where(IssueComparison.issue_id == again.issue.id)
        ).all()
    assert statuses == [(1, "2026-W48", "cancelled"), (2, "2026-W48", "draft")]
    assert len(picked) == 2  # the cancelled issue released both


def test_two_builders_after_a_cancel_end_with_one_new_issue(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """The loser of the race for the freed week gets the winner's issue, not the cancelled
    one (on PostgreSQL it meets the unique index and reads the week again)."""
    _load(engine, tmp_path / "content", {"one": "2026-11-24"})
    with session_scope(engine) as session:
        move_issue(session, build_issue(session, "2026-W48", settings).issue.number, "cancel")
    # On SQLite, BEGIN IMMEDIATE already makes the second builder wait at its start.
    start = threading.Barrier(1 if engine.dialect.name == "sqlite" else 2)
    results: list[tuple[int, bool]] = []
    failures: list[BaseException] = []

    def build() -> None:
        try:
            with session_scope(engine, immediate=True) as session:
                start.wait(timeout=10)
                built = build_issue(session, "2026-W48", settings)
                results.append((built.issue.number, built.created))
                time.sleep(0.3)  # hold the new row until the other has tried
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    assert sorted(results) == [(2, False), (2, True)]
    with session_scope(engine) as session:
        assert [i.status for i in session.exec(select(Issue).order_by(col(Issue.number)))] == [
            "cancelled",
            "draft",
        ]


def test_withdrawn_comparisons_are_never_picked(engine: Engine, tmp_path: Path) -> None:
    _load(engine, tmp_path / "content", {"kept": "2026-11-24", "gone": "2026-11-25"})
    with session_scope(engine) as session:
        session.exec(
            select(Comparison).where(Comparison.slug == "gone")
        ).one().withdrawn_at = utcnow()
    assert _pick(engine, "2026-W48") == ["kept"]


"""The week's pick rule at its boundaries, and one issue per week."""


def test_approval_records_the_snapshot_and_freezes_it_until_unapproved(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    _load(engine, tmp_path / "content", {"one": "2026-11-24"})
    with session_scope(engine) as session:
        number = build_issue(session, "2026-W48", settings).issue.number
    unapprove_hint = f"run `newsletter issue unapprove {number}` to change it"

    def rerender() -> None:
        with session_scope(engine) as session:
            rerender_issue(session, get_issue(session, number), settings)

    with session_scope(engine) as session:
        approved = approve_issue(session, number, settings)
        assert approved.status == IssueStatus.APPROVED
        assert approved.approved_hash == approved.content_hash == snapshot_hash(approved)
    for frozen in ("approved", "held"):
        with pytest.raises(IssueConflict) as refused:
            rerender()
        assert str(refused.value).startswith(f"issue #{number} is {frozen}, so its snapshot")
        assert unapprove_hint in str(refused.value)
        with session_scope(engine) as session:
            move_issue(session, number, "hold")
    with session_scope(engine) as session:
        back = move_issue(session, number, "unapprove")
        assert (back.status, back.approved_hash) == (IssueStatus.DRAFT, None)
    rerender()  # a draft again: the editor may change it
    with session_scope(engine) as session:
        approve_issue(session, number, settings)
        assert move_issue(session, number, "unapprove").approved_hash is None  # from approved

    tamper(engine, number, **broken("subject", stored(engine, number)))
    with session_scope(engine) as session, pytest.raises(ChecksFailed, match="line break"):
        approve_issue(session, number, settings)
    assert (stored(engine, number).status, stored(engine, number).approved_hash) == (
        IssueStatus.DRAFT,
        None,
    )
    tamper(engine, number, status=IssueStatus.SENDING.value)
    with session_scope(engine) as session, pytest.raises(IssueConflict) as refused:
        move_issue(session, number, "unapprove")
    assert str(refused.value) == (
        f"cannot unapprove issue #{number}: it is sending (only approved, held issues can be)"
    )
