"""Checking a whole content folder: a good file, the reviewer panel, the shipped content, and
every problem of every file in one run."""

from __future__ import annotations

from pathlib import Path

from newsletter.core.settings import PROJECT_ROOT
from newsletter.publishing.content import check_content
from tests.factories import COMPARISON_FILE, problems_in

FIRST = "content/comparisons/alpha-vs-beta.yaml"
COPY = "content/comparisons/copy.yaml"


def _edit(text: str, *changes: tuple[str, str]) -> str:
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    return text


def write_broken_folder(root: Path) -> list[str]:
    """Two comparison files and the panel with field, reference and cross-file problems;
    returns every line `content check` must report, in order."""
    (root / "reviewers.yaml").write_text(
        "- slug: dx\n  name: Dana Dev\n  lens: developer-experience\n"
        '- slug: risk\n  name: "Riley\\nRisk"\n  lens: competition\n'
    )
    (root / "comparisons" / "alpha-vs-beta.yaml").write_text(
        _edit(
            COMPARISON_FILE,
            ("title: Alpha vs Beta", 'title: "Alpha\\nvs Beta"'),
            ("vendor: Beta Corp", "vendor: 42"),
            ('beta: {verdict: wait, take: "Docs are thin."}', 'gamma: {verdict: wait, take: "?"}'),
            ("  - reviewer: risk", "  - reviewer: nobody"),
        )
    )
    (root / "comparisons" / "copy.yaml").write_text(
        _edit(
            COMPARISON_FILE,
            ("tagline: The first tool", "tagline: The best tool"),
            ('alpha: {verdict: ship, take: "Fast to set up."}', "alpha: {verdict: maybe, take: x}"),
        )
    )
    return [
        f"{FIRST}:2: title: must be one line (it has a line break)",
        f"{FIRST}:17: tools[1].vendor: must be text "
        "(YAML reads this value as a number; put it in quotes)",
        f"{FIRST}:25: reviews[0].takes: no take for tool 'beta'",
        f"{FIRST}:27: reviews[0].takes.gamma: take for 'gamma', "
        "which is not a tool of this comparison",
        f"{FIRST}:28: reviews[1].reviewer: unknown reviewer 'nobody' (not in reviewers.yaml)",
        f"{COPY}:1: slug: duplicate comparison slug 'alpha-vs-beta' (also in {FIRST})",
        f"{COPY}:1: slug: slug 'alpha-vs-beta' must match the file name 'copy'",
        f"{COPY}:11: tools[0].tagline: tool 'alpha' is written differently in {FIRST}:11: "
        "tagline is 'The best tool' here and 'The first tool' there; "
        "a tool must be the same in every file",
        f"{COPY}:26: reviews[0].takes.alpha.verdict: must be one of ship, wait, skip, not 'maybe'",
        "content/reviewers.yaml:5: [1].name: must be one line (it has a line break)",
    ]


def test_good_file_has_no_problems(root: Path) -> None:
    assert problems_in(root, COMPARISON_FILE) == []


def test_one_run_reports_every_problem_of_every_file(root: Path) -> None:
    """Field problems do not hide the references or the clashes between files: an editor
    sees everything in one run, each with file, line and field."""
    expected = write_broken_folder(root)
    checked = check_content(root)
    assert [str(p) for p in checked.problems] == expected
    assert checked.comparisons == []
    assert [r.slug for r in checked.reviewers] == ["dx"]


def test_reviewer_file_problems(root: Path) -> None:
    (root / "reviewers.yaml").write_text(
        "- slug: dx\n  name: Dana\n  lens: developer-experience\n"
        "- slug: dx\n  name: Again\n  lens: thesis\n"
        "- slug: odd\n  name: Odd\n  lens: astrology\n"
    )
    problems = [str(p) for p in check_content(root).problems]
    assert problems == [
        "content/reviewers.yaml:4: [1].slug: duplicate reviewer slug 'dx' (first on line 1)",
        "content/reviewers.yaml:9: [2].lens: must be one of developer-experience, "
        "competition, thesis, business, not 'astrology'",
    ]


def test_a_broken_reviewer_is_reported_once_not_in_every_comparison(root: Path) -> None:
    """A reviewer with a bad field is still a known reviewer: the comparisons citing them
    do not each report them as unknown."""
    (root / "reviewers.yaml").write_text(
        "- slug: dx\n  name: Dana\n  lens: astrology\n- slug: risk\n  name: Riley\n  lens: thesis\n"
    )
    assert problems_in(root, COMPARISON_FILE) == [
        "content/reviewers.yaml:3: [0].lens: must be one of developer-experience, "
        "competition, thesis, business, not 'astrology'",
    ]


def test_an_unreadable_panel_does_not_make_every_reviewer_unknown(root: Path) -> None:
    (root / "reviewers.yaml").write_text("- slug: dx\n  name: [Dana\n")
    problems = problems_in(root, COMPARISON_FILE)
    assert len(problems) == 1, problems
    assert problems == [
        "content/reviewers.yaml:2: YAML: unclosed '[': the one that opens on this line has no ']'"
    ]


def test_an_empty_comparison_file_is_reported(root: Path) -> None:
    (root / "comparisons" / "draft.yaml").write_text("# to be written\n")
    problems = [str(p) for p in check_content(root).problems]
    assert problems == ["content/comparisons/draft.yaml:1: file is empty"]


def test_the_shipped_content_is_clean() -> None:
    checked = check_content(PROJECT_ROOT / "content")
    assert checked.problems == []
    assert len(checked.comparisons) >= 6
    categories = {t.category for _, c in checked.comparisons for t in c.tools}
    weeks = {c.published.isocalendar()[:2] for _, c in checked.comparisons}
    assert len(categories) >= 3
    assert len(weeks) >= 2
