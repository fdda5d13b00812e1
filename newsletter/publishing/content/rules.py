"""The rules a schema cannot say: within one file, and across all of them.

Within a file: the slug matches the file name, two tools or more and no tool twice, a
review or more, every reviewer known and reviewing once, every take about a tool of the
comparison and every tool taken. Across files: comparison slugs are unique and a tool is
written identically wherever it appears (tools are stored once, by slug, so two versions
would overwrite each other). Anywhere: no placeholder sigil, or delivery would fill the
editor's text as if it were a marker.

The rules read the file as written, not the validated model, so they still run when a
field elsewhere in the file is broken: one run reports everything. A field the schema
already found wrong is left alone (`Written.valid`), so nothing is reported twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsletter.delivery.placeholders import SIGIL
from newsletter.publishing.content.lines import Loc, dotted, line_of
from newsletter.publishing.content.reports import Problem
from newsletter.publishing.content.schema import PricingIn, ToolIn, describe, valid_fields


def sigil_problems(root: Any, shown: str) -> list[Problem]:
    """Text may not contain the placeholder sigil: delivery would treat it as a placeholder."""
    found: list[Problem] = []

    def walk(node: Any, loc: Loc) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, (*loc, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, (*loc, index))
        elif isinstance(node, str) and SIGIL in node:
            message = f"may not contain '{SIGIL}'"
            found.append(Problem(shown, line_of(root, loc), dotted(loc), message))

    walk(root, ())
    return found


class Written:
    """One parsed file as the rules read it, with the places its schema problems are at."""

    def __init__(self, shown: str, document: Any, broken: frozenset[Loc] = frozenset()) -> None:
        self.shown = shown
        self.document = document
        # Every place at or above a problem, so `valid` costs one lookup however many
        # problems a file has.
        self._spoilt = {loc[:depth] for loc in broken for depth in range(len(loc) + 1)}

    def raw(self, *loc: int | str) -> Any:
        """The value at `loc` as written, or None where the document has no such place."""
        node = self.document
        for part in loc:
            in_mapping = isinstance(node, dict) and isinstance(part, str) and part in node
            in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
            if not (in_mapping or in_list):
                return None
            node = node[part]
        return node

    def sound(self, loc: Loc) -> bool:
        """True when no problem was found at `loc` or inside it."""
        return loc not in self._spoilt

    def valid(self, *loc: int | str) -> str | None:
        """The text at `loc` when no problem was found there, else None."""
        value = self.raw(*loc)
        if not isinstance(value, str) or not self.sound(loc):
            return None
        return value

    def problem(self, loc: Loc, message: str) -> Problem:
        return Problem(self.shown, line_of(self.document, loc), dotted(loc), message)


def comparison_problems(written: Written, path: Path, reviewers: set[str] | None) -> list[Problem]:
    """The rules within one comparison file. `reviewers` is None when the panel could not
    be read: every reviewer would look unknown, which says nothing new."""
    out: list[Problem] = []
    slug = written.valid("slug")
    if slug is not None and slug != path.stem:
        out.append(
            written.problem(("slug",), f"slug '{slug}' must match the file name '{path.stem}'")
        )
    tools = written.raw("tools")
    tool_slugs = _tool_problems(written, tools, out) if isinstance(tools, list) else None
    reviews = written.raw("reviews")
    if isinstance(reviews, list):
        if not reviews:
            out.append(written.problem(("reviews",), "a comparison needs at least one review"))
        seen: set[str] = set()
        written_slugs = _written_slugs(tools) if tool_slugs is not None else None
        for index in range(len(reviews)):
            reviewer = written.valid("reviews", index, "reviewer")
            if reviewer is not None:
                out += _reviewer_problems(written, index, reviewer, reviewers, seen)
            if tool_slugs is not None:
                out += _take_problems(written, index, written_slugs, tool_slugs)
    return out


def _written_slugs(tools: list[Any]) -> set[str] | None:
    """Every tool slug as written, valid or not, so that a broken tool slug is reported
    once, as itself, and not again as a stray take in every review. None when a tool has
    no slug that reads as text (none, a list, a mapping): which takes it would claim is
    unknown, so no take is called stray."""
    out: set[str] = set()
    for tool in tools:
        slug = tool.get("slug") if isinstance(tool, dict) else None
        if isinstance(slug, bool) or not isinstance(slug, str | int | float):
            return None
        out.add(str(slug))
    return out


def _tool_problems(written: Written, tools: list[Any], out: list[Problem]) -> list[str]:
    """At least two tools, none twice; returns the valid tool slugs, in order."""
    if len(tools) < 2:
        out.append(
            written.problem(
                ("tools",), f"a comparison needs at least two tools (this one has {len(tools)})"
            )
        )
    first: dict[str, int] = {}
    for index in range(len(tools)):
        slug = written.valid("tools", index, "slug")
        if slug is None:
            continue
        if slug in first:
            message = f"tool '{slug}' appears twice (first as {dotted(('tools', first[slug]))})"
            out.append(written.problem(("tools", index, "slug"), message))
        else:
            first[slug] = index
    return list(first)


def _reviewer_problems(
    written: Written, index: int, reviewer: str, reviewers: set[str] | None, seen: set[str]
) -> list[Problem]:
    out: list[Problem] = []
    here = ("reviews", index, "reviewer")
    if reviewers is not None and reviewer not in reviewers:
        out.append(written.problem(here, f"unknown reviewer '{reviewer}' (not in reviewers.yaml)"))
    if reviewer in seen:
        out.append(written.problem(here, f"reviewer '{reviewer}' reviews this comparison twice"))
    seen.add(reviewer)
    return out


def _take_problems(
    written: Written, index: int, written_slugs: set[str] | None, tool_slugs: list[str]
) -> list[Problem]:
    """A review's takes cover exactly the comparison's tools. The tools without a take
    are named in one problem per review, so the report grows with the file, not with
    its tools times its reviews."""
    takes = written.raw("reviews", index, "takes")
    if not isinstance(takes, dict):
        return []
    out: list[Problem] = []
    here = ("reviews", index, "takes")
    stray = (
        [slug for slug in takes if slug not in written_slugs] if written_slugs is not None else []
    )
    for tool_slug in stray:
        message = f"take for '{tool_slug}', which is not a tool of this comparison"
        out.append(written.problem((*here, tool_slug), message))
    missing = [f"'{slug}'" for slug in tool_slugs if slug not in takes]
    if len(missing) == 1:
        out.append(written.problem(here, f"no take for tool {missing[0]}"))
    elif missing:
        listed = ", ".join(missing[:5]) + (", …" if len(missing) > 5 else "")
        out.append(written.problem(here, f"no take for {len(missing)} tools: {listed}"))
    return out


@dataclass(frozen=True)
class _Seen:
    """A tool field's value where it was first written."""

    value: Any
    shown: str
    line: int


class AcrossFiles:
    """What earlier files said, for the rules that span files: feed it every comparison in
    file order, valid or not; the first file to write a slug, or a field of a tool, is the
    one the others are compared with. Only fields valid in both files are compared."""

    def __init__(self) -> None:
        self._slugs: dict[str, str] = {}
        self._tools: dict[tuple[str, Loc], _Seen] = {}

    def problems(self, written: Written) -> list[Problem]:
        """This file's clashes with the files before it; then remembers it."""
        out: list[Problem] = []
        slug = written.valid("slug")
        if slug is not None:
            if slug in self._slugs:
                message = f"duplicate comparison slug '{slug}' (also in {self._slugs[slug]})"
                out.append(written.problem(("slug",), message))
            self._slugs.setdefault(slug, written.shown)
        tools = written.raw("tools")
        here: set[str] = set()
        for index, tool in enumerate(tools if isinstance(tools, list) else []):
            tool_slug = written.valid("tools", index, "slug")
            if tool_slug is None or tool_slug in here:
                continue  # a tool twice in one file is that file's problem
            here.add(tool_slug)
            for suffix, value in _tool_fields(tool).items():
                loc = ("tools", index, *suffix)
                if written.sound(loc):
                    out += self._compare(written, tool_slug, loc, value)
        return out

    def _compare(self, written: Written, tool_slug: str, loc: Loc, value: Any) -> list[Problem]:
        key = (tool_slug, loc[2:])
        seen = self._tools.get(key)
        if seen is None:
            self._tools[key] = _Seen(value, written.shown, line_of(written.document, loc))
            return []
        if seen.value == value:
            return []
        name = dotted(loc[2:])
        message = (
            f"tool '{tool_slug}' is written differently in {seen.shown}:{seen.line}: "
            f"{name} is {_shown(value)} here and {_shown(seen.value)} there; "
            "a tool must be the same in every file"
        )
        return [written.problem(loc, message)]


def _tool_fields(tool: Any) -> dict[Loc, Any]:
    """The valid fields of one tool as written, pricing's two fields apart."""
    fields: dict[Loc, Any] = {
        (name,): value for name, value in valid_fields(ToolIn, tool).items() if name != "pricing"
    }
    pricing = tool.get("pricing") if isinstance(tool, dict) else None
    for name, value in valid_fields(PricingIn, pricing).items():
        fields[("pricing", name)] = value
    return fields


def _shown(value: Any) -> str:
    return "not given" if value is None else describe(value)
