"""The shapes editors write: one pydantic model per kind of entry, strict and frozen.

Strict (`extra="forbid"`) because a mistyped field name would otherwise vanish without a
word; frozen so that validated entries can be compared and shared. Every rule about one
field lives in that field's type (no model-level validators), so a field can also be
checked on its own (`valid_fields`): the rules across files compare what is valid in a
file even when another field of it is broken. `wording` turns pydantic's errors into the
editors' words.

Fields shown on one line (a title in the inbox's subject, a name in a table cell) refuse a
line break and every control character; longer text refuses control characters but keeps
its paragraphs.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from functools import cache
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from newsletter.publishing.models import Lens, PricingEntry, Verdict

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
"""Every character `str.splitlines` breaks at: a mail client or a table would too."""


def _control_character(value: str, allowed: str) -> str | None:
    for char in value:
        if char not in allowed and unicodedata.category(char) == "Cc":
            return char
    return None


def _one_line(value: str) -> str:
    if any(char in LINE_BREAKS for char in value):
        raise PydanticCustomError("one_line", "must be one line (it has a line break)")
    return _plain(value, allowed="")


def _plain(value: str, allowed: str = "\n\t") -> str:
    char = _control_character(value, allowed)
    if char is not None:
        raise PydanticCustomError(
            "control_character",
            "may not contain control character {code}",
            {"code": f"U+{ord(char):04X}"},
        )
    return value


def _absolute_http(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+\.\S+", value) or _control_character(value, ""):
        raise PydanticCustomError(
            "url", "must be an absolute http(s) URL, e.g. https://example.com/tool"
        )
    return value


def _written_date(value: Any) -> Any:
    """YYYY-MM-DD only: pydantic alone would also take a number of seconds since 1970."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value  # a date object, from Python (a file has no tags: `lines` refuses them)
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    if value is None:
        raise PydanticCustomError("date", "must not be empty; write a date as YYYY-MM-DD")
    raise PydanticCustomError(
        "date", "{got} is not a date (write YYYY-MM-DD)", {"got": describe(value)}
    )


def _text(max_length: int) -> Any:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=100)]
OneLine = Annotated[str, _text(300), AfterValidator(_one_line)]
Prose = Annotated[str, _text(2000), AfterValidator(_plain)]
ShortProse = Annotated[str, _text(400), AfterValidator(_plain)]
Url = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(_absolute_http)
]
WrittenDate = Annotated[date, BeforeValidator(_written_date)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ClassVar[str]
    """What one of these is called in a message: 'a tool has: slug, name, …'."""


class ReviewerIn(_Strict):
    """One panel member in reviewers.yaml."""

    kind = "a reviewer"
    slug: Slug
    name: OneLine
    lens: Lens


class PricingIn(_Strict):
    kind = "pricing"
    entry: PricingEntry
    note: OneLine | None = None


class ToolIn(_Strict):
    """A tool as written inside a comparison; the same tool may appear in several files."""

    kind = "a tool"
    slug: Slug
    name: OneLine
    vendor: OneLine
    category: OneLine
    tagline: OneLine
    description: Prose
    pricing: PricingIn
    url: Url


class TakeIn(_Strict):
    kind = "a take"
    verdict: Verdict
    take: ShortProse


class ReviewIn(_Strict):
    """One reviewer's takes in one comparison, keyed by tool slug."""

    kind = "a review"
    reviewer: Slug
    takes: dict[str, TakeIn]


class ComparisonIn(_Strict):
    """One file under comparisons/. How many tools and reviews it needs is a rule
    (`rules.py`): pydantic checks a list's length only once every item is valid."""

    kind = "a comparison"
    slug: Slug
    title: OneLine
    question: OneLine
    published: WrittenDate
    verdict: OneLine
    tools: list[ToolIn]
    reviews: list[ReviewIn]


@cache
def _field_adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    info = model.model_fields[name]
    declared: Any = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    return TypeAdapter(declared)


def valid_fields(model: type[BaseModel], raw: Any) -> dict[str, Any]:
    """The fields of `raw` that are valid on their own, validated (a missing optional field
    at its default); the others are left out, `schema_problems` reports them."""
    if not isinstance(raw, dict):
        return {}
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name not in raw:
            if not info.is_required():
                out[name] = info.get_default()
            continue
        try:
            out[name] = _field_adapter(model, name).validate_python(raw[name])
        except ValidationError:
            continue
    return out


def describe(value: Any) -> str:
    """A value as a message quotes it, on one line: 'maybe', the number 12, a list."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:39] + "…"
        return "'" + "".join(c if c.isprintable() else repr(c)[1:-1] for c in shown) + "'"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
