"""The rules beyond the schema: within one file, across files, and the placeholder sigil."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.publishing.content import check_content
from tests.factories import (
    COMPARISON_FILE,
    comparison,
    problems_in,
    tool,
    write_comparison,
)

EDITED = "content/comparisons/alpha-vs-beta.yaml"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "  - reviewer: risk",
            "  - reviewer: nobody",
            f"{EDITED}:28: reviews[1].reviewer: unknown reviewer 'nobody' (not in reviewers.yaml)",
        ),
        (
            '      beta: {verdict: skip, take: "Single cloud."}',
            '      beta: {verdict: skip, take: "Single cloud."}\n      gamma: {verdict: ship, take: x}',
            f"{EDITED}:32: reviews[1].takes.gamma: take for 'gamma', which is not a tool of this comparison",
        ),
        (
            '      beta: {verdict: wait, take: "Docs are thin."}\n',
            "",
            f"{EDITED}:25: reviews[0].takes: no take for tool 'beta'",
        ),
        (
            "  - slug: beta",
            "  - slug: alpha",
            f"{EDITED}:15: tools[1].slug: tool 'alpha' appears twice",
        ),
        (
            "verdict: Alpha for teams, Beta for solo work.",
            "verdict: Save 50%% today",
            f"{EDITED}:5: verdict: may not contain '%%'",
        ),
    ],
)
def test_each_rule_names_file_line_and_field(root: Path, old: str, new: str, expected: str) -> None:
    assert old in COMPARISON_FILE
    problems = problems_in(root, COMPARISON_FILE.replace(old, new))
    assert expected in problems, problems


def test_slug_must_match_file_name_and_be_unique(root: Path) -> None:
    (root / "comparisons" / "alpha-vs-beta.yaml").write_text(COMPARISON_FILE)
    problems = [str(p) for p in check_content(root).problems]
    assert problems == []
    (root / "comparisons" / "copy.yaml").write_text(COMPARISON_FILE)
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
