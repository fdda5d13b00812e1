"""Each schema problem names file, line and field, in the editors' words."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from newsletter.publishing.content.schema import (
    ComparisonIn,
    PricingIn,
    ReviewerIn,
    ReviewIn,
    TakeIn,
    ToolIn,
)
from newsletter.publishing.content.wording import FALLBACK, OWN_ERRORS, editor_message
from tests.factories import COMPARISON_FILE, REVIEWERS, comparison, problems_in, tool

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
            "published: 2026-11-23",
            "published: 1732320000",  # 2024-11-23, in seconds: pydantic alone takes it
            f"{EDITED}:4: published: the number 1732320000 is not a date (write YYYY-MM-DD)",
        ),
        (
            "question: Which one should you ship with?\n",
            "",
            f"{EDITED}:1: question: is required",
        ),
        (
            "title: Alpha vs Beta",
            "title:",
            f"{EDITED}:2: title: must not be empty",
        ),
        (
            "    name: Beta",
            "    name: 2.5",
            f"{EDITED}:16: tools[1].name: must be text "
            "(YAML reads this value as a number; put it in quotes)",
        ),
        (
            "    name: Beta",
            "    name: yes",
            f"{EDITED}:16: tools[1].name: must be text "
            "(YAML reads this value as true or false; put it in quotes)",
        ),
        (
            "    name: Beta",
            "    name: [Beta]",
            f"{EDITED}:16: tools[1].name: must be text, not a list",
        ),
        (
            "    tagline: The second tool",
            "    tagline: " + "x" * 301,
            f"{EDITED}:19: tools[1].tagline: must be at most 300 characters (this one has 301)",
        ),
        (
            '      alpha: {verdict: ship, take: "Fast to set up."}',
            '      alpha: {verdict: maybe, take: "Fast to set up."}',
            f"{EDITED}:26: reviews[0].takes.alpha.verdict: "
            "must be one of ship, wait, skip, not 'maybe'",
        ),
        (
            '      alpha: {verdict: ship, take: "Fast to set up."}',
            '      alpha: {verdict: ~, take: "Fast to set up."}',
            f"{EDITED}:26: reviews[0].takes.alpha.verdict: "
            "must not be empty; write one of ship, wait, skip",
        ),
        (
            "    pricing: {entry: Paid}",
            "    pricing: {entry: Cheap}",
            f"{EDITED}:21: tools[1].pricing.entry: "
            "must be one of Free, Freemium, Paid, Enterprise, not 'Cheap'",
        ),
        (
            "    pricing: {entry: Paid}",
            "    pricing: Paid",
            f"{EDITED}:21: tools[1].pricing: must be a mapping of fields (name: value), not 'Paid'",
        ),
        (
            "    url: https://beta.example.com/",
            "    url: beta.example.com",
            f"{EDITED}:22: tools[1].url: must be an absolute http(s) URL, e.g. https://example.com/tool",
        ),
        (
            "    vendor: Beta Corp",
            "    vendor: Beta Corp\n    colour: blue",
            f"{EDITED}:18: tools[1].colour: unknown field (a typo?); a tool has: slug, name, "
            "vendor, category, tagline, description, pricing, url",
        ),
        (
            "slug: alpha-vs-beta",
            "slug: Alpha_vs_Beta",
            f"{EDITED}:1: slug: must be lowercase letters, digits and single hyphens (a slug)",
        ),
        (
            '    takes:\n      alpha: {verdict: ship, take: "Two vendors behind it."}\n'
            '      beta: {verdict: skip, take: "Single cloud."}\n',
            "    takes: [alpha, beta]\n",
            f"{EDITED}:29: reviews[1].takes: must be a mapping (key: value), not a list",
        ),
    ],
)
def test_each_schema_problem_names_file_line_and_field(
    root: Path, old: str, new: str, expected: str
) -> None:
    assert old in COMPARISON_FILE
    problems = problems_in(root, COMPARISON_FILE.replace(old, new))
    assert expected in problems, problems


ONE_LINE_FIELDS = [
    ("title: Alpha vs Beta", "title: VALUE", 2, "title"),
    ("question: Which one should you ship with?", "question: VALUE", 3, "question"),
    ("verdict: Alpha for teams, Beta for solo work.", "verdict: VALUE", 5, "verdict"),
    ("    name: Beta", "    name: VALUE", 16, "tools[1].name"),
    ("    vendor: Beta Corp", "    vendor: VALUE", 17, "tools[1].vendor"),
    ("    category: Developer Tools", "    category: VALUE", 10, "tools[0].category"),
    ("    tagline: The second tool", "    tagline: VALUE", 19, "tools[1].tagline"),
    ("note: Self-hosted}", "note: VALUE}", 13, "tools[0].pricing.note"),
]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('"Alpha\\nvs Beta"', "must be one line (it has a line break)"),
        ('"Alpha\\u2028vs Beta"', "must be one line (it has a line break)"),
        ('"Alpha\\avs Beta"', "may not contain control character U+0007"),
        ('"Alpha\\tvs Beta"', "may not contain control character U+0009"),
    ],
)
@pytest.mark.parametrize(("old", "new", "line", "field"), ONE_LINE_FIELDS)
def test_one_line_fields_refuse_line_breaks_and_control_characters(
    root: Path, value: str, reason: str, old: str, new: str, line: int, field: str
) -> None:
    """A title with a line break would reach the subject line; a bell would reach a table."""
    assert old in COMPARISON_FILE
    text = COMPARISON_FILE.replace(old, new.replace("VALUE", value), 1)
    assert problems_in(root, text) == [f"{EDITED}:{line}: {field}: {reason}"]


def test_the_reviewer_name_is_one_line(root: Path) -> None:
    (root / "reviewers.yaml").write_text(
        "- slug: dx\n  name: |\n    Dana\n    Dev\n  lens: thesis\n"
        "- slug: risk\n  name: Riley\n  lens: thesis\n"
    )
    problems = problems_in(root, COMPARISON_FILE)
    assert problems == [
        "content/reviewers.yaml:2: [0].name: must be one line (it has a line break)"
    ]


def test_prose_keeps_paragraphs_but_refuses_control_characters(root: Path) -> None:
    old = "    description: Beta does another thing."
    fine = COMPARISON_FILE.replace(old, "    description: |\n      One.\n\n      Two.")
    assert problems_in(root, fine) == []
    bad = COMPARISON_FILE.replace(old, '    description: "One.\\x1bTwo."')
    assert problems_in(root, bad) == [
        f"{EDITED}:20: tools[1].description: may not contain control character U+001B"
    ]


# Every kind of value YAML can hand the schema, for the test below.
YAML_VALUES: list[Any] = [
    None,
    True,
    0,
    12,
    2.5,
    "",
    "   ",
    "x",
    "Not A Slug",
    "a\nb",
    "a\x07b",
    "x" * 2001,
    b"\xff\xfe",
    b"ok",
    [],
    ["x"],
    {},
    {"x": 1},
    date(2026, 11, 23),
    datetime(2026, 11, 23, 8, 0),
    {1, 2},
]


def _valid(model: type[BaseModel]) -> dict[str, Any]:
    """One valid entry of each model, as YAML would give it."""
    item = comparison("one")
    valid: dict[type[BaseModel], dict[str, Any]] = {
        ComparisonIn: item,
        ReviewerIn: REVIEWERS[0],
        ToolIn: tool("one-a"),
        PricingIn: tool("one-a")["pricing"],
        ReviewIn: item["reviews"][0],
        TakeIn: next(iter(item["reviews"][0]["takes"].values())),
    }
    return valid[model]


@pytest.mark.parametrize("model", [ComparisonIn, ReviewerIn, ToolIn, PricingIn, ReviewIn, TakeIn])
def test_every_error_the_schema_can_raise_is_in_the_editors_words(model: type[BaseModel]) -> None:
    """Each field given each kind of value YAML can produce, each entry replaced whole or
    given an extra field: no message is pydantic's own sentence, and none needs the
    fallback (which is there for error types these schemas cannot raise)."""
    base = _valid(model)
    model.model_validate(base)
    cases: list[Any] = [*YAML_VALUES, {**base, "typo": 1}]
    for name in model.model_fields:
        cases.append({k: v for k, v in base.items() if k != name})
        cases += [{**base, name: value} for value in YAML_VALUES]
    seen: set[str] = set()
    for case in cases:
        try:
            model.model_validate(case)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                message = editor_message(error, model)
                seen.add(error["type"])
                assert message != FALLBACK, error
                if error["type"] not in OWN_ERRORS:
                    assert message != error["msg"], error
                assert "Input should" not in message, error
                assert "\n" not in message, error
    assert {"missing", "extra_forbidden", "string_type"} <= seen


def test_an_error_type_without_wording_gets_the_fallback_not_pydantic_s_sentence() -> None:
    error: ErrorDetails = {
        "type": "int_parsing",
        "loc": ("slug",),
        "msg": "Input should be a valid integer, unable to parse string as an integer",
        "input": "x",
    }
    assert editor_message(error, ComparisonIn) == FALLBACK == "has a value that is not allowed here"
