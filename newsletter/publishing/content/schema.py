"""The shapes editors write: one pydantic model per kind of entry, strict and frozen.

Strict (`extra="forbid"`) because a mistyped field name would otherwise vanish without a
word; frozen because the cross-file checks compare whole tools for equality. Pydantic's
own messages are rewritten into the editors' words by `schema_problems`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, field_validator

from newsletter.publishing.content.lines import dotted, line_of
from newsletter.publishing.content.reports import Problem
from newsletter.publishing.models import Lens, PricingEntry, Verdict

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=100)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Prose = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReviewerIn(_Strict):
    """One panel member in reviewers.yaml."""

    slug: Slug
    name: Line
    lens: Lens


class PricingIn(_Strict):
    entry: PricingEntry
    note: Line | None = None


class ToolIn(_Strict):
    """A tool as written inside a comparison; the same tool may appear in several files."""

    slug: Slug
    name: Line
    vendor: Line
    category: Line
    tagline: Line
    description: Prose
    pricing: PricingIn
    url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]

    @field_validator("url")
    @classmethod
    def _absolute_http(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+\.[^\s]+$", value):
            raise ValueError("must be an absolute http(s) URL, e.g. https://example.com/tool")
        return value


class TakeIn(_Strict):
    verdict: Verdict
    take: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=400)]


class ReviewIn(_Strict):
    """One reviewer's takes in one comparison, keyed by tool slug."""

    reviewer: Slug
    takes: dict[str, TakeIn]


class ComparisonIn(_Strict):
    """One file under comparisons/."""

    slug: Slug
    title: Line
    question: Line
    published: date
    verdict: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    tools: Annotated[list[ToolIn], "2 or more"]
    reviews: list[ReviewIn]

    @field_validator("tools")
    @classmethod
    def _at_least_two(cls, value: list[ToolIn]) -> list[ToolIn]:
        if len(value) < 2:
            raise ValueError("a comparison needs at least two tools")
        return value

    @field_validator("reviews")
    @classmethod
    def _at_least_one(cls, value: list[ReviewIn]) -> list[ReviewIn]:
        if not value:
            raise ValueError("a comparison needs at least one review")
        return value


def schema_problems(
    exc: ValidationError, document: Any, shown: str, prefix: tuple[int | str, ...] = ()
) -> list[Problem]:
    """Pydantic's errors in the editors' words, each at the line of the field it names."""
    out = []
    for error in exc.errors():
        loc = prefix + tuple(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "required field is missing"
        elif error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "enum":
            allowed = error.get("ctx", {}).get("expected", "")
            message = f"'{error.get('input')}' is not one of {allowed}"
        elif error["type"] == "string_pattern_mismatch":
            message = "must be lowercase letters, digits and single hyphens (a slug)"
        elif error["type"].startswith("date"):
            message = f"'{error.get('input')}' is not a date (write YYYY-MM-DD)"
        out.append(Problem(shown, line_of(document, loc), dotted(loc), message))
    return out
