"""Any YAML shape in any field: the check reports it, with file and line, and never crashes.

The content check runs inside the weekly job and the preview, so a crash there is a
missed send or a 500 page. Every field of a valid comparison and of the panel is turned
into every shape YAML can write (each kind of scalar, a list, a mapping, null, a tag), and
into arbitrary nested values; the check must answer every time, each problem at a file and
a line that exists.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.publishing.content import check_content
from tests.factories import REVIEWERS, comparison, tool, write_content

SLUG = "alpha-vs-beta"
VALID = comparison(
    SLUG,
    tools=[tool("alpha"), tool("beta")],
    verdicts={"dx": ["ship", "wait"], "risk": ["skip", "ship"]},
)
SENTINEL = "SHAPE-GOES-HERE"

SHAPES: dict[str, tuple[str, bool]] = {
    # name: (YAML as written in place of the value, whether it can be valid text)
    "text": ("some words", True),
    "date-like text": ("2026-11-23", True),
    "empty text": ('""', False),
    "integer": ("42", False),
    "float": (".nan", False),
    "boolean": ("yes", False),
    "null": ("null", False),
    "tagged": ("!!int nope", False),
    "custom tag": ("!custom x", False),
    "list": ("[a, b]", False),
    "empty list": ("[]", False),
    "list of mappings": ("[{slug: x, name: y}]", False),
    "mapping": ("{name: x}", False),
    "empty mapping": ("{}", False),
    "nested": ("{a: [1, {b: ~}], c: {d: [[]]}}", False),
}
"""Flow style, so one snippet fits any place in a block document."""

MAY_BE_EMPTY = {("tools", 0, "pricing", "note"), ("tools", 1, "pricing", "note")}
PROBLEM = re.compile(r"^content/(reviewers\.yaml|comparisons/[a-z-]+\.yaml):(\d+): ")


def _places(node: Any, loc: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key and item of a document, containers included."""
    out = [loc] if loc else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _places(value, (*loc, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _places(value, (*loc, index))
    return out


def _replaced(document: Any, loc: tuple[Any, ...], value: Any) -> Any:
    if not loc:
        return value
    head, rest = loc[0], loc[1:]
    if isinstance(document, dict):
        return {k: (_replaced(v, rest, value) if k == head else v) for k, v in document.items()}
    return [(_replaced(v, rest, value) if i == head else v) for i, v in enumerate(document)]


def _checked(root: Path, panel: Any, item: Any, snippet: str = "") -> list[str]:
    """Write the panel and the comparison (text as it is, data dumped with `snippet` in
    place of the sentinel), check them, and assert what every report must be: no
    exception, each problem at a file and a line of it."""
    for path, data in (
        (root / "reviewers.yaml", panel),
        (root / "comparisons" / f"{SLUG}.yaml", item),
    ):
        text = data if isinstance(data, str) else _dump(data)
        path.write_text(text.replace(SENTINEL, snippet))
    problems = [str(p) for p in check_content(root).problems]
    for problem in problems:
        match = PROBLEM.match(problem)
        assert match, problem
        written = (root / match.group(1)).read_text()
        assert 1 <= int(match.group(2)) <= max(1, written.count("\n")), problem
    return problems


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _at(document: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        document = document[part]
    return document


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_content(tmp_path / "content", [])


def test_the_unchanged_files_are_valid(root: Path) -> None:
    assert _checked(root, REVIEWERS, VALID) == []


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_field_of_a_comparison_in_every_shape_is_reported(root: Path, shape: str) -> None:
    snippet, may_be_text = SHAPES[shape]
    for loc in _places(VALID):
        problems = _checked(root, REVIEWERS, _replaced(VALID, loc, SENTINEL), snippet)
        allowed = (may_be_text and isinstance(_at(VALID, loc), str)) or (
            loc in MAY_BE_EMPTY and snippet == "null"
        )
        assert problems or allowed, (loc, shape)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_field_of_the_panel_in_every_shape_is_reported(root: Path, shape: str) -> None:
    snippet, may_be_text = SHAPES[shape]
    for loc in _places(REVIEWERS):
        problems = _checked(root, _replaced(REVIEWERS, loc, SENTINEL), VALID, snippet)
        assert problems or (may_be_text and len(loc) == 2), (loc, shape)


def test_a_tool_slug_written_as_a_list_or_a_mapping_is_one_problem(root: Path) -> None:
    """A mis-indented `- slug:` holding the tool's other fields: reported at the slug, not
    again as a bad_verdict take in every review, and the rest of the file is still checked."""
    shown = f"content/comparisons/{SLUG}.yaml"
    text = _dump(VALID).replace("verdict: skip\n", "verdict: maybe\n", 1)
    as_list = text.replace("- slug: beta\n", "- slug:\n  - beta\n")
    as_mapping = text.replace("- slug: beta\n  name: Beta\n", "- slug:\n    name: Beta\n")
    bad_verdict = (
        f"{shown}:39: reviews[1].takes.alpha.verdict: must be one of ship, wait, skip, not 'maybe'"
    )
    assert _checked(root, REVIEWERS, as_list) == [
        f"{shown}:17: tools[1].slug: must be text, not a list",
        bad_verdict.replace(":39:", ":40:"),
    ]
    assert _checked(root, REVIEWERS, as_mapping) == [
        f"{shown}:17: tools[1].name: is required",
        f"{shown}:17: tools[1].slug: must be text, not a mapping",
        bad_verdict,
    ]


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.dates().map(str),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), value=_values)
def test_any_value_anywhere_never_crashes_the_check(
    root: Path, data: st.DataObject, value: Any
) -> None:
    """Arbitrary nested values (block style, any text) in any field of either file."""
    in_panel = data.draw(st.booleans(), label="in the panel")
    document = REVIEWERS if in_panel else VALID
    loc = data.draw(st.sampled_from(_places(document)), label="field")
    changed = _replaced(document, loc, value)
    _checked(root, changed, VALID) if in_panel else _checked(root, REVIEWERS, changed)
