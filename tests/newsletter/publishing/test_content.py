"""Content checks name file, line and field; loading is all-or-nothing and idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import select

from newsletter.core.database import session_scope
from newsletter.core.settings import PROJECT_ROOT
from newsletter.publishing.content import ContentError, check_content, load_content
from newsletter.publishing.models import Comparison, Review, Reviewer, Tool
from tests.factories import comparison, tool, write_comparison, write_content

GOOD = """\
slug: alpha-vs-beta
title: Alpha vs Beta
question: Which one should you ship with?
published: 2026-11-23
verdict: Alpha for teams, Beta for solo work.
tools:
  - slug: alpha
    name: Alpha
    vendor: Alpha Labs
    category: Developer Tools
    tagline: The first tool
    description: Alpha does one thing well.
    pricing: {entry: Free, note: Self-hosted}
    url: https://alpha.example.com/
  - slug: beta
    name: Beta
    vendor: Beta Corp
    category: Developer Tools
    tagline: The second tool
    description: Beta does another thing.
    pricing: {entry: Paid}
    url: https://beta.example.com/
reviews:
  - reviewer: dx
    takes:
      alpha: {verdict: ship, take: "Fast to set up."}
      beta: {verdict: wait, take: "Docs are thin."}
  - reviewer: risk
    takes:
      alpha: {verdict: ship, take: "Two vendors behind it."}
      beta: {verdict: skip, take: "Single cloud."}
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_content(tmp_path / "content", [])


def _problems(root: Path, text: str, name: str = "alpha-vs-beta") -> list[str]:
    (root / "comparisons" / f"{name}.yaml").write_text(text)
    return [str(p) for p in check_content(root).problems]


def test_good_file_has_no_problems(root: Path) -> None:
    assert _problems(root, GOOD) == []


BAD = "content/comparisons/alpha-vs-beta.yaml"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "  - reviewer: risk",
            "  - reviewer: nobody",
            f"{BAD}:28: reviews[1].reviewer: unknown reviewer 'nobody' (not in reviewers.yaml)",
        ),
        (
            '      beta: {verdict: skip, take: "Single cloud."}',
            '      beta: {verdict: skip, take: "Single cloud."}\n      gamma: {verdict: ship, take: x}',
            f"{BAD}:32: reviews[1].takes.gamma: take for 'gamma', which is not a tool of this comparison",
        ),
        (
            "published: 2026-11-23",
            "published: 2026-13-45",
            f"{BAD}:4: published: '2026-13-45' is not a date (write YYYY-MM-DD)",
        ),
        (
            "question: Which one should you ship with?\n",
            "",
            f"{BAD}:1: question: required field is missing",
        ),
        (
            '      alpha: {verdict: ship, take: "Fast to set up."}',
            '      alpha: {verdict: maybe, take: "Fast to set up."}',
            f"{BAD}:26: reviews[0].takes.alpha.verdict: 'maybe' is not one of 'ship', 'wait' or 'skip'",
        ),
        (
            "    pricing: {entry: Paid}",
            "    pricing: {entry: Cheap}",
            f"{BAD}:21: tools[1].pricing.entry: 'Cheap' is not one of 'Free', 'Freemium', 'Paid' or 'Enterprise'",
        ),
        (
            "    url: https://beta.example.com/",
            "    url: beta.example.com",
            f"{BAD}:22: tools[1].url: must be an absolute http(s) URL, e.g. https://example.com/tool",
        ),
        (
            "    vendor: Beta Corp",
            "    vendor: Beta Corp\n    colour: blue",
            f"{BAD}:18: tools[1].colour: unknown field",
        ),
        (
            '      beta: {verdict: wait, take: "Docs are thin."}\n',
            "",
            f"{BAD}:25: reviews[0].takes: no take for tool 'beta'",
        ),
        (
            "  - slug: beta",
            "  - slug: alpha",
            f"{BAD}:15: tools[1].slug: tool 'alpha' appears twice",
        ),
        (
            "title: Alpha vs Beta",
            "title: Alpha vs Beta\ntitle: Again",
            f"{BAD}:3: YAML: duplicate key 'title'",
        ),
        (
            "verdict: Alpha for teams, Beta for solo work.",
            "verdict: [unclosed",
            f"{BAD}:6: YAML: expected ',' or ']', but got ':'",
        ),
        (
            "verdict: Alpha for teams, Beta for solo work.",
            "verdict: Save 50%% today",
            f"{BAD}:5: verdict: may not contain '%%'",
        ),
        (
            "slug: alpha-vs-beta",
            "slug: Alpha_vs_Beta",
            f"{BAD}:1: slug: must be lowercase letters, digits and single hyphens (a slug)",
        ),
    ],
)
def test_each_problem_names_file_line_and_field(
    root: Path, old: str, new: str, expected: str
) -> None:
    assert old in GOOD
    problems = _problems(root, GOOD.replace(old, new))
    assert expected in problems, problems


def test_slug_must_match_file_name_and_be_unique(root: Path) -> None:
    (root / "comparisons" / "alpha-vs-beta.yaml").write_text(GOOD)
    problems = [str(p) for p in check_content(root).problems]
    assert problems == []
    (root / "comparisons" / "copy.yaml").write_text(GOOD)
    problems = [str(p) for p in check_content(root).problems]
    assert (
        "content/comparisons/copy.yaml:1: slug: slug 'alpha-vs-beta' must match the file name 'copy'"
        in problems
    )
    assert (
        "content/comparisons/copy.yaml:1: slug: duplicate comparison slug 'alpha-vs-beta' "
        "(also in content/comparisons/alpha-vs-beta.yaml)" in problems
    )


def test_a_tool_defined_differently_in_two_files_is_refused(root: Path) -> None:
    write_comparison(root, comparison("one", tools=[tool("shared"), tool("x")]))
    write_comparison(root, comparison("two", tools=[tool("y"), tool("shared", tagline="Other")]))
    problems = [str(p) for p in check_content(root).problems]
    assert len(problems) == 1
    assert problems[0].startswith("content/comparisons/two.yaml:")
    assert "tool 'shared' is defined differently in content/comparisons/one.yaml" in problems[0]


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
