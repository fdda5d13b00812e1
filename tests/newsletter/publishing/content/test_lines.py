"""YAML problems are reported at their line, and a key written twice is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import COMPARISON_FILE, problems_in

EDITED = "content/comparisons/alpha-vs-beta.yaml"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "title: Alpha vs Beta",
            "title: Alpha vs Beta\ntitle: Again",
            f"{EDITED}:3: YAML: duplicate key 'title'",
        ),
        (
            "verdict: Alpha for teams, Beta for solo work.",
            "verdict: [unclosed",
            f"{EDITED}:6: YAML: expected ',' or ']', but got ':'",
        ),
    ],
)
def test_yaml_problems_name_file_and_line(root: Path, old: str, new: str, expected: str) -> None:
    assert old in COMPARISON_FILE
    problems = problems_in(root, COMPARISON_FILE.replace(old, new))
    assert expected in problems, problems
