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
            f"{EDITED}:15: tools[1].slug: tool 'alpha' appears twice (first as tools[0])",
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


def test_a_tool_written_differently_in_two_files_names_each_field(root: Path) -> None:
    write_comparison(root, comparison("one", tools=[tool("shared"), tool("x")]))
    write_comparison(
        root,
        comparison(
            "two",
            tools=[tool("y"), tool("shared", tagline="Other", pricing={"entry": "Paid"})],
        ),
    )
    problems = [str(p) for p in check_content(root).problems]
    two, one = "content/comparisons/two.yaml", "content/comparisons/one.yaml"
    assert problems == [
        f"{two}:21: tools[1].tagline: tool 'shared' is written differently in {one}:11: "
        "tagline is 'Other' here and 'The shared tagline' there; "
        "a tool must be the same in every file",
        f"{two}:23: tools[1].pricing.note: tool 'shared' is written differently in {one}:15: "
        "pricing.note is not given here and '$10 per seat for shared' there; "
        "a tool must be the same in every file",
        f"{two}:24: tools[1].pricing.entry: tool 'shared' is written differently in {one}:14: "
        "pricing.entry is 'Paid' here and 'Freemium' there; a tool must be the same in every file",
    ]


def test_tools_are_compared_even_when_a_file_has_field_problems(root: Path) -> None:
    """A broken url in the first file does not hide the tagline that differs in the second;
    the url itself is reported once, as a field problem, not as a difference."""
    write_comparison(root, comparison("one", tools=[tool("shared", url="nope"), tool("x")]))
    write_comparison(root, comparison("two", tools=[tool("y"), tool("shared", tagline="Other")]))
    problems = [str(p) for p in check_content(root).problems]
    assert problems == [
        "content/comparisons/one.yaml:16: tools[0].url: "
        "must be an absolute http(s) URL, e.g. https://example.com/tool",
        "content/comparisons/two.yaml:21: tools[1].tagline: tool 'shared' is written "
        "differently in content/comparisons/one.yaml:11: tagline is 'Other' here and "
        "'The shared tagline' there; a tool must be the same in every file",
    ]


def test_counts_are_checked_even_when_an_item_is_broken(root: Path) -> None:
    """Pydantic checks a list's length only once every item is valid; the rule does not
    wait for the editor to fix the item first."""
    text = COMPARISON_FILE[: COMPARISON_FILE.index("  - slug: beta")] + "reviews: []\n"
    text = text.replace("    url: https://alpha.example.com/", "    url: alpha")
    assert problems_in(root, text) == [
        f"{EDITED}:6: tools: a comparison needs at least two tools (this one has 1)",
        f"{EDITED}:14: tools[0].url: must be an absolute http(s) URL, e.g. https://example.com/tool",
        f"{EDITED}:15: reviews: a comparison needs at least one review",
    ]


def test_missing_takes_are_one_problem_per_review(root: Path) -> None:
    tools = [tool(f"t{n}") for n in range(7)]
    write_comparison(root, comparison("many", tools=tools, verdicts={"dx": ["ship"]}))
    problems = [str(p) for p in check_content(root).problems]
    assert len(problems) == 1
    assert problems[0].endswith(
        "reviews[0].takes: no take for 6 tools: 't1', 't2', 't3', 't4', 't5', …"
    )
