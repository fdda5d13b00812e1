"""A comparison whose file was deleted is withdrawn: never picked again, taken out of drafts
(re-rendered, or cancelled when nothing is left), kept where it is frozen or went out."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.publishing.content import ContentError
from newsletter.publishing.issues import (
    build_issue,
    get_issue,
    pick_comparisons,
)
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.publishing.models import Comparison, Issue, IssueComparison
from newsletter.publishing.preview import Preview, build_preview
from newsletter.publishing.withdrawal import ContentLoad, load_and_withdraw, refresh_issue
from tests.factories import comparison, write_comparison, write_content
from tests.newsletter.publishing.helpers import decide


def _load(engine: Engine, root: Path, settings: Settings) -> ContentLoad:
    with session_scope(engine) as session:
        return load_and_withdraw(session, root, settings)


def _slugs(engine: Engine, number: int) -> list[str]:
    with session_scope(engine) as session:
        return list(
            session.exec(
                select(Comparison.slug)
                .join(IssueComparison, col(IssueComparison.comparison_id) == Comparison.id)
                .join(Issue, col(Issue.id) == IssueComparison.issue_id)
                .where(Issue.number == number)
                .order_by(col(IssueComparison.position))
            )
        )


def _issue(engine: Engine, number: int) -> Issue:
    with session_scope(engine) as session:
        return get_issue(session, number)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_content(
        tmp_path / "content",
        [
            comparison("a", "2026-11-27"),
            comparison("b", "2026-11-26"),
            comparison("c", "2026-11-25"),
            comparison("d", "2026-11-18"),
            comparison("e", "2026-11-17"),
            comparison("f", "2026-11-10"),
        ],
    )


def test_a_deleted_file_leaves_a_draft_and_is_never_picked_again(
    engine: Engine, settings: Settings, root: Path
) -> None:
    first = _load(engine, root, settings)
    assert first.report.withdrawn == []
    settings.comparisons_per_issue = 2
    with session_scope(engine) as session:
        number = build_issue(session, "2026-W48", settings).issue.number
    assert _slugs(engine, number) == ["a", "b"]
    before = _issue(engine, number)

    (root / "comparisons" / "a.yaml").unlink()
    loaded = _load(engine, root, settings)
    assert loaded.report.withdrawn == ["a"]
    assert loaded.notes() == [
        "withdrawn a: its file is gone; it is never picked again",
        "issue #1 (2026-W48): took out withdrawn a; re-rendered",
    ]
    assert loaded.warnings() == []
    assert _slugs(engine, number) == ["b"]
    with session_scope(engine) as session:  # positions stay contiguous from 0
        assert [link.position for link in session.exec(select(IssueComparison))] == [0]
    after = _issue(engine, number)
    assert "A A vs A B" in before.html
    assert "A A vs A B" not in after.html
    assert after.subject == "Verdicts #1: B A vs B B"
    with session_scope(engine) as session:
        row = session.exec(select(Comparison).where(Comparison.slug == "a")).one()
        assert row.withdrawn_at is not None
        # Free, in the window and newest, yet never picked again.
        assert [c.slug for c in pick_comparisons(session, "2026-W48", 10)] == ["c", "d", "e", "f"]

    again = _load(engine, root, settings)  # nothing new to say the second time
    assert again.report.withdrawn == []
    assert again.notes() == []
    assert not again.report.changed

    write_comparison(root, comparison("a", "2026-11-27"))  # the file is back
    back = _load(engine, root, settings)
    assert back.report.restored == ["a"]
    assert back.notes() == ["restored a: its file is back"]
    with session_scope(engine) as session:
        assert (
            session.exec(select(Comparison).where(Comparison.slug == "a")).one().withdrawn_at
            is None
        )
        assert [c.slug for c in pick_comparisons(session, "2026-W48", 1)] == ["a"]
    assert _slugs(engine, number) == ["b"]  # not put back by itself: the editor decides


def test_a_draft_left_with_nothing_is_cancelled_and_its_week_built_again(
    engine: Engine, settings: Settings, root: Path
) -> None:
    _load(engine, root, settings)
    settings.comparisons_per_issue = 1
    with session_scope(engine) as session:
        number = build_issue(session, "2026-W48", settings).issue.number
    (root / "comparisons" / "a.yaml").unlink()
    loaded = _load(engine, root, settings)
    assert loaded.notes()[-1] == (
        "issue #1 (2026-W48) cancelled: every comparison in it was withdrawn (a); "
        "`newsletter issue build --week 2026-W48` picks again"
    )
    cancelled = _issue(engine, number)
    assert cancelled.status == IssueStatus.CANCELLED
    assert cancelled.status_reason == (
        "every comparison in it was withdrawn (their files were deleted)"
    )
    assert "A A vs A B" in cancelled.html  # the history keeps what it was
    with session_scope(engine) as session:
        rebuilt = build_issue(session, "2026-W48", settings)
    assert rebuilt.created
    assert rebuilt.issue.number == 2
    assert _slugs(engine, 2) == ["b"]


@pytest.mark.parametrize("action", ["approve", "hold"])
def test_a_frozen_issue_keeps_a_withdrawn_comparison_and_the_load_says_so(
    engine: Engine, settings: Settings, root: Path, action: str
) -> None:
    _load(engine, root, settings)
    with session_scope(engine) as session:
        number = build_issue(session, "2026-W48", settings).issue.number
        decide(session, number, action, settings)
    before = _issue(engine, number)
    (root / "comparisons" / "b.yaml").unlink()
    (root / "comparisons" / "c.yaml").unlink()
    status = "approved" if action == "approve" else "held"
    expected = [
        f"issue #1 (2026-W48) is {status} and still holds withdrawn b, c: "
        "`newsletter issue unapprove 1`, then `newsletter content load` takes it out"
    ]
    assert _load(engine, root, settings).warnings() == expected
    assert _load(engine, root, settings).warnings() == expected  # until someone acts
    after = _issue(engine, number)
    assert after.status == before.status
    assert (after.html, after.content_hash) == (before.html, before.content_hash)
    assert _slugs(engine, number) == ["a", "b", "c"]

    with session_scope(engine) as session:  # what `issue unapprove` does, then a load
        session.exec(select(Issue).where(Issue.number == number)).one().status = "draft"
    loaded = _load(engine, root, settings)
    assert loaded.warnings() == []
    assert loaded.notes() == ["issue #1 (2026-W48): took out withdrawn b, c; re-rendered"]
    assert _slugs(engine, number) == ["a"]


def test_an_issue_that_went_out_keeps_it_in_the_archive(
    engine: Engine, settings: Settings, root: Path
) -> None:
    _load(engine, root, settings)
    with session_scope(engine) as session:
        issue = build_issue(session, "2026-W48", settings).issue
        issue.status = IssueStatus.SENT
    sent = _issue(engine, issue.number)
    (root / "comparisons" / "a.yaml").unlink()
    loaded = _load(engine, root, settings)
    assert loaded.report.withdrawn == ["a"]
    assert loaded.notes() == ["withdrawn a: its file is gone; it is never picked again"]
    assert loaded.warnings() == []
    assert _slugs(engine, sent.number) == ["a", "b", "c"]
    assert _issue(engine, sent.number).html == sent.html


def test_a_bad_file_withdraws_nothing(engine: Engine, settings: Settings, root: Path) -> None:
    _load(engine, root, settings)
    with session_scope(engine) as session:
        number = build_issue(session, "2026-W48", settings).issue.number
    (root / "comparisons" / "a.yaml").unlink()
    (root / "comparisons" / "b.yaml").write_text("slug: b\ntitle: [broken\n")
    with pytest.raises(ContentError):
        _load(engine, root, settings)
    assert _slugs(engine, number) == ["a", "b", "c"]
    with session_scope(engine) as session:
        assert (
            session.exec(select(Comparison).where(col(Comparison.withdrawn_at).is_not(None))).all()
            == []
        )


def test_a_load_that_would_withdraw_everything_changes_nothing(
    engine: Engine, settings: Settings, root: Path
) -> None:
    """Every comparison file gone at once is a checkout caught half-way, not an editor's
    decision: the load is refused, and the drafts keep what they hold (no draft is
    cancelled, no comparison withdrawn)."""
    _load(engine, root, settings)
    with session_scope(engine) as session:
        number = build_issue(session, "2026-W48", settings).issue.number
    for path in (root / "comparisons").iterdir():
        path.unlink()
    with pytest.raises(ContentError, match="1 problem"):
        _load(engine, root, settings)
    assert _issue(engine, number).status == IssueStatus.DRAFT
    assert _slugs(engine, number) == ["a", "b", "c"]
    with session_scope(engine) as session:
        assert (
            session.exec(select(Comparison).where(col(Comparison.withdrawn_at).is_not(None))).all()
            == []
        )


def test_a_refresh_and_a_preview_at_once_never_deadlock(
    engine: Engine, settings: Settings, root: Path
) -> None:
    """`issue build --refresh` and the preview both load the files and re-render the same
    draft, over and over from two threads: both take the content load's lock before the
    issue's row, so neither waits for the other in a circle (PostgreSQL would abort one
    with a deadlock)."""
    settings.content_dir = root
    _load(engine, root, settings)
    with session_scope(engine) as session:
        number = build_issue(session, "2026-W48", settings).issue.number
    errors: list[BaseException] = []
    rounds = {"refresh": 0, "preview": 0}
    until = time.monotonic() + 4

    def refresh() -> None:
        while time.monotonic() < until and not errors:
            with session_scope(engine, immediate=True) as session:
                refresh_issue(session, "2026-W48", settings)
            rounds["refresh"] += 1

    def preview() -> None:
        while time.monotonic() < until and not errors:
            shown = build_preview(engine, settings, number=number)
            assert isinstance(shown, Preview), shown
            rounds["preview"] += 1

    def guarded(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except BaseException as exc:
                errors.append(exc)

        return run

    threads = [threading.Thread(target=guarded(work)) for work in (refresh, preview)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert all(rounds.values()), rounds  # both got through (SQLite makes them take turns)
    assert _issue(engine, number).status == IssueStatus.DRAFT
