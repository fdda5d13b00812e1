"""Pydantic's validation errors in the editors' words, each at its file, line and field.

Pydantic speaks to programmers ("Input should be a valid string", "Extra inputs are not
permitted"); an editor needs what to write instead ("must be text (YAML reads this value
as a number; put it in quotes)", "must be one of ship, wait, skip"). Each error type the
content schemas can raise has its sentence here, chosen by the error's type and never by
its text; the errors the schema raises itself (`one_line`, `url`, ...) are already worded.
Anything else gets a plain fallback rather than pydantic's sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from types import NoneType, UnionType
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from newsletter.publishing.content.lines import Loc, dotted, line_of
from newsletter.publishing.content.reports import Problem
from newsletter.publishing.content.schema import describe

OWN_ERRORS = frozenset({"one_line", "control_character", "url", "date"})
"""Error types the schema raises with an editor's sentence already."""
FALLBACK = "has a value that is not allowed here"

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Validated(Generic[M]):
    """One entry checked against its model: the value when valid, else every problem and
    the locations they are at (so the rules leave those fields alone)."""

    value: M | None
    problems: list[Problem]
    broken: frozenset[Loc]


def validate(
    model: type[M], document: Any, shown: str, prefix: Loc = (), quiet: frozenset[Loc] = frozenset()
) -> Validated[M]:
    """Validate the part of `document` at `prefix` (the whole of it by default). Errors at
    or inside a `quiet` place are counted as broken but not reported: that place's problem
    (bytes that could not be read) is reported already."""
    raw = document
    for part in prefix:
        raw = raw[part]
    try:
        return Validated(model.model_validate(raw), [], frozenset())
    except ValidationError as exc:
        problems = []
        broken = set()
        for error in exc.errors(include_url=False):
            where = prefix + tuple(error["loc"])
            broken.add(where)
            if any(where[:depth] in quiet for depth in range(len(where) + 1)):
                continue
            message = editor_message(error, model)
            problems.append(Problem(shown, line_of(document, where), dotted(where), message))
        return Validated(None, problems, frozenset(broken))


def editor_message(error: ErrorDetails, model: type[BaseModel]) -> str:
    """One pydantic error, said for an editor; `model` is what was validated."""
    kind = error["type"]
    if kind in OWN_ERRORS:
        return error["msg"]
    wording = _WORDING.get(kind)
    if wording is None:
        return FALLBACK
    return wording(error, model, tuple(error["loc"]))


def _empty_or(message: str) -> Callable[[ErrorDetails, type[BaseModel], Any], str]:
    def word(error: ErrorDetails, model: type[BaseModel], loc: Any) -> str:
        value = error.get("input")
        if value is None:
            return "must not be empty"
        return f"{message}, not {describe(value)}"

    return word


def _missing(error: ErrorDetails, model: type[BaseModel], loc: Any) -> str:
    return "is required"


def _unknown_field(error: ErrorDetails, model: type[BaseModel], loc: Any) -> str:
    owner = type_at(model, loc[:-1])
    if isinstance(owner, type) and issubclass(owner, BaseModel):
        names = ", ".join(owner.model_fields)
        return f"unknown field (a typo?); {getattr(owner, 'kind', 'this')} has: {names}"
    return "unknown field (a typo?)"


def _text(error: ErrorDetails, model: type[BaseModel], loc: Any) -> str:
    value = error.get("input")
    if value is None:
        return "must not be empty"
    if isinstance(value, bool):
        return "must be text (YAML reads this value as true or false; put it in quotes)"
    if isinstance(value, int | float):
        return "must be text (YAML reads this value as a number; put it in quotes)"
    return f"must be text, not {describe(value)}"


def _too_long(error: ErrorDetails, model: type[BaseModel], loc: Any) -> str:
    limit = error.get("ctx", {}).get("max_length", "?")
    value = error.get("input")
    length = f" (this one has {len(value)})" if isinstance(value, str) else ""
    return f"must be at most {limit} characters{length}"


def _choice(error: ErrorDetails, model: type[BaseModel], loc: Any) -> str:
    choices = type_at(model, loc)
    listed = "the allowed values"
    if isinstance(choices, type) and issubclass(choices, Enum):
        listed = ", ".join(str(member.value) for member in choices)
    value = error.get("input")
    if value is None:
        return f"must not be empty; write one of {listed}"
    return f"must be one of {listed}, not {describe(value)}"


def _own_text(error: ErrorDetails, model: type[BaseModel], loc: Any) -> str:
    """A ValueError or assertion raised by a validator of this project: its text is ours."""
    reason = error.get("ctx", {}).get("error")
    return str(reason) if reason else FALLBACK


_WORDING: dict[str, Callable[[ErrorDetails, type[BaseModel], Any], str]] = {
    "missing": _missing,
    "extra_forbidden": _unknown_field,
    "string_type": _text,
    "string_unicode": lambda error, model, loc: "must be UTF-8 text",
    "string_too_short": lambda error, model, loc: "must not be empty",
    "string_too_long": _too_long,
    "string_pattern_mismatch": (
        lambda error, model, loc: "must be lowercase letters, digits and single hyphens (a slug)"
    ),
    "enum": _choice,
    "model_type": _empty_or("must be a mapping of fields (name: value)"),
    "dict_type": _empty_or("must be a mapping (key: value)"),
    "list_type": _empty_or("must be a list (one '- ' line per item)"),
    "value_error": _own_text,
    "assertion_error": _own_text,
}


def type_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> Any:
    """The declared type at `loc` inside `model` (a model, an enum, str...), or None."""
    current: Any = model
    for part in loc:
        current = _bare(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(part) if isinstance(part, str) else None
            if info is None:
                return None
            current = info.annotation
        elif get_origin(current) is list and isinstance(part, int):
            current = get_args(current)[0]
        elif get_origin(current) is dict and isinstance(part, str):
            current = get_args(current)[1]
        else:
            return None
    return _bare(current)


def _bare(annotation: Any) -> Any:
    """`X | None` and `Annotated[X, ...]` as X."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, UnionType):
            others = [arg for arg in get_args(annotation) if arg is not NoneType]
            if len(others) != 1:
                return annotation
            annotation = others[0]
        else:
            return annotation
