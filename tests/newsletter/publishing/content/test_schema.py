"""Each schema problem names file, line and field, in the editors' words."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import COMPARISON_FILE, problems_in

EDITED = "content/comparisons/alpha-vs-beta.yaml"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "published: 2026-11-23",
            "published: 2026-13-45",
            f"{EDITED}:4: published: '2026-13-45' is not a date (write YYYY-MM-DD)",
        ),
        (
            "question: Which one should you ship with?\n",
            "",
            f"{EDITED}:1: question: required field is missing",
        ),
        (
            '      alpha: {verdict: ship, take: "Fast to set up."}',
            '      alpha: {verdict: maybe, take: "Fast to set up."}',
            f"{EDITED}:26: reviews[0].takes.alpha.verdict: 'maybe' is not one of 'ship', 'wait' or 'skip'",
        ),
        (
            "    pricing: {entry: Paid}",
            "    pricing: {entry: Cheap}",
            f"{EDITED}:21: tools[1].pricing.entry: 'Cheap' is not one of 'Free', 'Freemium', 'Paid' or 'Enterprise'",
        ),
        (
            "    url: https://beta.example.com/",
            "    url: beta.example.com",
            f"{EDITED}:22: tools[1].url: must be an absolute http(s) URL, e.g. https://example.com/tool",
        ),
        (
            "    vendor: Beta Corp",
            "    vendor: Beta Corp\n    colour: blue",
            f"{EDITED}:18: tools[1].colour: unknown field",
        ),
        (
            "slug: alpha-vs-beta",
            "slug: Alpha_vs_Beta",
            f"{EDITED}:1: slug: must be lowercase letters, digits and single hyphens (a slug)",
        ),
    ],
)
def test_each_schema_problem_names_file_line_and_field(
    root: Path, old: str, new: str, expected: str
) -> None:
    assert old in COMPARISON_FILE
    problems = problems_in(root, COMPARISON_FILE.replace(old, new))
    assert expected in problems, problems
