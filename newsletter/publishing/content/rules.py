"""The rules a schema cannot say: within one file, and across all of them.

Within a file: the slug matches the file name, no tool twice, every reviewer known and
reviewing once, every take about a tool of the comparison and every tool taken. Across
files: comparison slugs are unique and a tool is written identically wherever it appears
(tools are stored once, by slug, so two versions would overwrite each other). Anywhere:
no placeholder sigil, or delivery would fill the editor's text as if it were a marker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from newsletter.delivery.placeholders import SIGIL
from newsletter.publishing.content.lines import dotted, line_of
from newsletter.publishing.content.reports import Problem
from newsletter.publishing.content.schema import ComparisonIn, ToolIn


def sigil_problems(root: Any, shown: str) -> list[Problem]:
    """Text may not contain the placeholder sigil: delivery would treat it as a placeholder."""
    found: list[Problem] = []

    def walk(node: Any, loc: tuple[int | str, ...]) -> None:
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


def comparison_problems(
    comparison: ComparisonIn, document: Any, shown: str, reviewer_slugs: set[str], path: Path
) -> list[Problem]:
    """The rules within one comparison file."""
    out: list[Problem] = []
    if path.stem != comparison.slug:
        out.append(
            Problem(
                shown,
                line_of(document, ("slug",)),
                "slug",
                f"slug '{comparison.slug}' must match the file name '{path.stem}'",
            )
        )
    tool_slugs = [t.slug for t in comparison.tools]
    for index, slug in enumerate(tool_slugs):
        if slug in tool_slugs[:index]:
            out.append(
                Problem(
                    shown,
                    line_of(document, ("tools", index, "slug")),
                    f"tools[{index}].slug",
                    f"tool '{slug}' appears twice",
                )
            )
    seen_reviewers: set[str] = set()
    for index, review in enumerate(comparison.reviews):
        where = line_of(document, ("reviews", index, "reviewer"))
        if review.reviewer not in reviewer_slugs:
            out.append(
                Problem(
                    shown,
                    where,
                    f"reviews[{index}].reviewer",
                    f"unknown reviewer '{review.reviewer}' (not in reviewers.yaml)",
                )
            )
        if review.reviewer in seen_reviewers:
            out.append(
                Problem(
                    shown,
                    where,
                    f"reviews[{index}].reviewer",
                    f"reviewer '{review.reviewer}' reviews this comparison twice",
                )
            )
        seen_reviewers.add(review.reviewer)
        out += _take_problems(comparison, index, document, shown, tool_slugs)
    return out


def _take_problems(
    comparison: ComparisonIn, index: int, document: Any, shown: str, tool_slugs: list[str]
) -> list[Problem]:
    """A review's takes cover exactly the comparison's tools."""
    out: list[Problem] = []
    takes = comparison.reviews[index].takes
    here = ("reviews", index)
    for tool_slug in takes:
        if tool_slug not in tool_slugs:
            out.append(
                Problem(
                    shown,
                    line_of(document, (*here, "takes", tool_slug)),
                    f"reviews[{index}].takes.{tool_slug}",
                    f"take for '{tool_slug}', which is not a tool of this comparison",
                )
            )
    for tool_slug in tool_slugs:
        if tool_slug not in takes:
            out.append(
                Problem(
                    shown,
                    line_of(document, (*here, "takes")),
                    f"reviews[{index}].takes",
                    f"no take for tool '{tool_slug}'",
                )
            )
    return out


class AcrossFiles:
    """What earlier files said, for the rules that span files: feed it every valid
    comparison in file order; the first file to use a slug is the one others are
    compared with."""

    def __init__(self) -> None:
        self._slugs: dict[str, str] = {}
        self._tools: dict[str, tuple[ToolIn, str]] = {}

    def problems(self, comparison: ComparisonIn, document: Any, shown: str) -> list[Problem]:
        """This file's clashes with the files before it; then remembers it."""
        out: list[Problem] = []
        if comparison.slug in self._slugs:
            out.append(
                Problem(
                    shown,
                    line_of(document, ("slug",)),
                    "slug",
                    f"duplicate comparison slug '{comparison.slug}' "
                    f"(also in {self._slugs[comparison.slug]})",
                )
            )
        for index, tool in enumerate(comparison.tools):
            known = self._tools.get(tool.slug)
            if known and known[0] != tool:
                out.append(
                    Problem(
                        shown,
                        line_of(document, ("tools", index)),
                        f"tools[{index}]",
                        f"tool '{tool.slug}' is defined differently in {known[1]}; "
                        "a tool's fields must match wherever it appears",
                    )
                )
            self._tools.setdefault(tool.slug, (tool, shown))
        self._slugs.setdefault(comparison.slug, shown)
        return out
