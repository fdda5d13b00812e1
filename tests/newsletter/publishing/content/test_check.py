"""Checking a whole content folder: a good file, the reviewer panel, the shipped content."""

from __future__ import annotations

from pathlib import Path

from newsletter.core.settings import PROJECT_ROOT
from newsletter.publishing.content import check_content
from tests.factories import COMPARISON_FILE, problems_in


def test_good_file_has_no_problems(root: Path) -> None:
    assert problems_in(root, COMPARISON_FILE) == []


def test_reviewer_file_problems(root: Path) -> None:
    (root / "reviewers.yaml").write_text(
        "- slug: dx\n  name: Dana\n  lens: developer-experience\n"
        "- slug: dx\n  name: Again\n  lens: thesis\n"
        "- slug: odd\n  name: Odd\n  lens: astrology\n"
    )
    problems = [str(p) for p in check_content(root).problems]
    assert (
        "content/reviewers.yaml:4: [1].slug: duplicate reviewer slug 'dx' (first on line 1)"
        in problems
    )
    assert any(
        p.startswith("content/reviewers.yaml:9: [2].lens: 'astrology' is not one of")
        for p in problems
    )


def test_the_shipped_content_is_clean() -> None:
    checked = check_content(PROJECT_ROOT / "content")
    assert checked.problems == []
    assert len(checked.comparisons) >= 6
    categories = {t.category for _, c in checked.comparisons for t in c.tools}
    weeks = {c.published.isocalendar()[:2] for _, c in checked.comparisons}
    assert len(categories) >= 3
    assert len(weeks) >= 2
