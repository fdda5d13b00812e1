"""Loading is all-or-nothing, idempotent, and updates by slug."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import select

from newsletter.core.database import session_scope
from newsletter.publishing.content import ContentError, load_content
from newsletter.publishing.models import Comparison, Review, Reviewer, Tool
from tests.factories import comparison, write_comparison


def _counts(engine: Engine) -> tuple[int, int, int, int]:
    with session_scope(engine) as session:
        return (
            session.exec(select(func.count()).select_from(Comparison)).one(),
            session.exec(select(func.count()).select_from(Tool)).one(),
            session.exec(select(func.count()).select_from(Review)).one(),
            session.exec(select(func.count()).select_from(Reviewer)).one(),
        )


def test_load_is_idempotent_and_updates_by_slug(engine: Engine, root: Path) -> None:
    write_comparison(root, comparison("one"))
    write_comparison(root, comparison("two", published="2026-11-20"))
    with session_scope(engine) as session:
        first = load_content(session, root)
    assert sorted(first.created) == ["one", "two"]
    before = _counts(engine)
    assert before == (2, 4, 16, 4)
    with session_scope(engine) as session:
        again = load_content(session, root)
    assert again.created == []
    assert again.updated == []
    assert sorted(again.unchanged) == ["one", "two"]
    assert _counts(engine) == before

    write_comparison(root, comparison("two", published="2026-11-20", verdict="A new verdict."))
    with session_scope(engine) as session:
        edited = load_content(session, root)
    assert edited.updated == ["two"]
    with session_scope(engine) as session:
        row = session.exec(select(Comparison).where(Comparison.slug == "two")).one()
        assert row.verdict == "A new verdict."
    assert _counts(engine) == before


def test_a_bad_file_loads_nothing(engine: Engine, root: Path) -> None:
    write_comparison(root, comparison("one"))
    with session_scope(engine) as session:
        load_content(session, root)
    before = _counts(engine)
    write_comparison(root, comparison("one", verdict="Changed, but must not land."))
    write_comparison(root, comparison("two", published="not a date"))
    with pytest.raises(ContentError) as caught, session_scope(engine) as session:
        load_content(session, root)
    assert [p.path for p in caught.value.problems] == ["content/comparisons/two.yaml"]
    assert _counts(engine) == before
    with session_scope(engine) as session:
        row = session.exec(select(Comparison).where(Comparison.slug == "one")).one()
        assert row.verdict == "The verdict on one."


def test_a_deleted_file_withdraws_its_comparison_and_a_restored_one_comes_back(
    engine: Engine, root: Path
) -> None:
    write_comparison(root, comparison("one"))
    gone = write_comparison(root, comparison("two", published="2026-11-20"))
    with session_scope(engine) as session:
        load_content(session, root)
    gone.unlink()
    with session_scope(engine) as session:
        report = load_content(session, root)
    assert (report.withdrawn, report.restored, report.unchanged) == (["two"], [], ["one"])
    assert report.changed
    with session_scope(engine) as session:
        withdrawn = {c.slug: c.withdrawn_at for c in session.exec(select(Comparison))}
    assert withdrawn["one"] is None
    assert withdrawn["two"] is not None
    assert _counts(engine) == (2, 4, 16, 4)  # kept, with its tools and reviews
    with session_scope(engine) as session:  # still gone: nothing new to report
        again = load_content(session, root)
    assert (again.withdrawn, again.restored, again.changed) == ([], [], False)
    with session_scope(engine) as session:
        assert (
            session.exec(select(Comparison).where(Comparison.slug == "two")).one().withdrawn_at
            == (withdrawn["two"])
        )
    write_comparison(root, comparison("two", published="2026-11-20"))
    with session_scope(engine) as session:
        back = load_content(session, root)
    assert (back.withdrawn, back.restored, back.unchanged) == ([], ["two"], ["one", "two"])
    with session_scope(engine) as session:
        assert (
            session.exec(select(Comparison).where(Comparison.slug == "two")).one().withdrawn_at
            is None
        )


def test_a_folder_without_any_comparison_file_withdraws_nothing(engine: Engine, root: Path) -> None:
    """comparisons/ emptied by a git stash or a branch switch: the load is refused in one
    line and nothing is withdrawn (it would withdraw every comparison at once)."""
    files = [write_comparison(root, comparison(slug)) for slug in ("one", "two")]
    with session_scope(engine) as session:
        load_content(session, root)
    for path in files:
        path.unlink()

    with pytest.raises(ContentError) as refused, session_scope(engine) as session:
        load_content(session, root)

    [problem] = refused.value.problems
    assert str(problem) == (
        "content/comparisons:1: holds no comparison file while 2 comparison(s) are loaded; "
        "loading it would withdraw them all, so nothing was loaded (a git stash or a branch "
        "switch?): bring the files back and load again"
    )
    with session_scope(engine) as session:
        assert [c.withdrawn_at for c in session.exec(select(Comparison))] == [None, None]
    write_comparison(root, comparison("one"))  # one file back: "two" alone is withdrawn
    with session_scope(engine) as session:
        assert load_content(session, root).withdrawn == ["two"]
