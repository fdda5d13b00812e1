"""The editors' files: parse, check (every problem with file, line and field), load.

`check_content` never writes; `load_content` runs the same checks and then upserts
everything by slug in one transaction, so a bad file loads nothing and a second
load of the same files changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, field_validator
from sqlmodel import Session, select

from newsletter.core.clock import utcnow
from newsletter.core.database import serialize
from newsletter.core.errors import InvalidInput
from newsletter.core.sql import row_id
from newsletter.publishing.models import (
    Comparison,
    ComparisonTool,
    Lens,
    PricingEntry,
    Review,
    Reviewer,
    Tool,
    Verdict,
)

PLACEHOLDER_SIGIL = "%%"
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=100)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Prose = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


# --- YAML with line numbers -------------------------------------------------------------


class LineDict(dict[str, Any]):
    """A mapping that remembers the line of itself and of each key (1-based)."""

    line: int
    key_lines: dict[str, int]


class LineList(list[Any]):
    line: int
    item_lines: list[int]


class _DuplicateKey(yaml.MarkedYAMLError):
    pass


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that keeps line numbers, refuses duplicate keys and leaves dates as text
    (a bad date must reach validation as a field error, not a crash in the parser)."""

    def construct_line_mapping(self, node: yaml.MappingNode) -> LineDict:
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        self.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if key in result:
                raise _DuplicateKey(None, None, f"duplicate key '{key}'", key_node.start_mark)
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def construct_line_sequence(self, node: yaml.SequenceNode) -> LineList:
        result = LineList(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_line_mapping
)
_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _LineLoader.construct_line_sequence
)
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def line_of(document: Any, loc: tuple[int | str, ...]) -> int:
    """The line of the deepest node along `loc` that exists in the parsed document."""
    node = document
    line = getattr(document, "line", 1)
    for part in loc:
        if isinstance(node, LineDict) and isinstance(part, str) and part in node:
            line = node.key_lines[part]
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.item_lines[part]
            node = node[part]
        else:
            break
    return line


def dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# --- The shapes editors write -------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReviewerIn(_Strict):
    slug: Slug
    name: Line
    lens: Lens


class PricingIn(_Strict):
    entry: PricingEntry
    note: Line | None = None


class ToolIn(_Strict):
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
    reviewer: Slug
    takes: dict[str, TakeIn]


class ComparisonIn(_Strict):
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


# --- Checking ------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


@dataclass
class ContentSet:
    """Everything under a content folder, checked."""

    root: Path
    reviewers: list[ReviewerIn] = field(default_factory=list)
    comparisons: list[tuple[str, ComparisonIn]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class ContentError(InvalidInput):
    """Raised by `load_content` when the files have problems; nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in content; nothing was loaded")


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def _parse(path: Path, shown: str, problems: list[Problem]) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(shown, 1, "", f"not UTF-8 text ({exc.reason})"))
        return None
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problems.append(Problem(shown, line, "", f"YAML: {exc.problem or exc.context}"))
    except yaml.YAMLError as exc:
        problems.append(Problem(shown, 1, "", f"YAML: {exc}"))
    return None


def _validation_problems(
    exc: ValidationError, document: Any, shown: str, prefix: tuple[int | str, ...] = ()
) -> list[Problem]:
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


def _sigils(root: Any, shown: str) -> list[Problem]:
    """Text may not contain the placeholder sigil: delivery would treat it as a placeholder."""
    found: list[Problem] = []

    def walk(node: Any, loc: tuple[int | str, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, (*loc, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, (*loc, index))
        elif isinstance(node, str) and PLACEHOLDER_SIGIL in node:
            message = f"may not contain '{PLACEHOLDER_SIGIL}'"
            found.append(Problem(shown, line_of(root, loc), dotted(loc), message))

    walk(root, ())
    return found


def check_content(root: Path) -> ContentSet:
    """Read and check every file under `root`; writes nothing."""
    result = ContentSet(root=root)
    problems = result.problems
    reviewers_path = root / "reviewers.yaml"
    shown = _display(reviewers_path, root)
    if not reviewers_path.is_file():
        problems.append(Problem(shown, 1, "", "file not found: the reviewer panel is required"))
    else:
        document = _parse(reviewers_path, shown, problems)
        if document is not None and not isinstance(document, list):
            problems.append(Problem(shown, 1, "", "must be a list of reviewers"))
        elif document is not None:
            seen: dict[str, int] = {}
            for index, item in enumerate(document):
                try:
                    reviewer = ReviewerIn.model_validate(item)
                except ValidationError as exc:
                    problems += _validation_problems(exc, document, shown, (index,))
                    continue
                line = line_of(document, (index,))
                if reviewer.slug in seen:
                    problems.append(
                        Problem(
                            shown,
                            line,
                            f"[{index}].slug",
                            f"duplicate reviewer slug '{reviewer.slug}' "
                            f"(first on line {seen[reviewer.slug]})",
                        )
                    )
                    continue
                seen[reviewer.slug] = line
                result.reviewers.append(reviewer)
            problems += _sigils(document, shown)

    reviewer_slugs = {r.slug for r in result.reviewers}
    comparisons_dir = root / "comparisons"
    if not comparisons_dir.is_dir():
        problems.append(Problem(_display(comparisons_dir, root), 1, "", "folder not found"))
        return result

    slugs: dict[str, str] = {}
    tools: dict[str, tuple[ToolIn, str]] = {}
    files = sorted(p for p in comparisons_dir.iterdir() if p.suffix in {".yaml", ".yml"})
    for path in files:
        shown = _display(path, root)
        document = _parse(path, shown, problems)
        if document is None:
            continue
        if not isinstance(document, dict):
            problems.append(Problem(shown, 1, "", "must be a mapping (slug: …, title: …)"))
            continue
        problems += _sigils(document, shown)
        try:
            comparison = ComparisonIn.model_validate(document)
        except ValidationError as exc:
            problems += _validation_problems(exc, document, shown)
            continue
        before = len(problems)
        problems += _cross_check(comparison, document, shown, reviewer_slugs, path)
        if comparison.slug in slugs:
            problems.append(
                Problem(
                    shown,
                    line_of(document, ("slug",)),
                    "slug",
                    f"duplicate comparison slug '{comparison.slug}' "
                    f"(also in {slugs[comparison.slug]})",
                )
            )
        for index, tool in enumerate(comparison.tools):
            known = tools.get(tool.slug)
            if known and known[0] != tool:
                problems.append(
                    Problem(
                        shown,
                        line_of(document, ("tools", index)),
                        f"tools[{index}]",
                        f"tool '{tool.slug}' is defined differently in {known[1]}; "
                        "a tool's fields must match wherever it appears",
                    )
                )
            tools.setdefault(tool.slug, (tool, shown))
        slugs.setdefault(comparison.slug, shown)
        if len(problems) == before:
            result.comparisons.append((shown, comparison))
    problems.sort()
    return result


def _cross_check(
    comparison: ComparisonIn, document: Any, shown: str, reviewer_slugs: set[str], path: Path
) -> list[Problem]:
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
        here = ("reviews", index)
        if review.reviewer not in reviewer_slugs:
            out.append(
                Problem(
                    shown,
                    line_of(document, (*here, "reviewer")),
                    f"reviews[{index}].reviewer",
                    f"unknown reviewer '{review.reviewer}' (not in reviewers.yaml)",
                )
            )
        if review.reviewer in seen_reviewers:
            out.append(
                Problem(
                    shown,
                    line_of(document, (*here, "reviewer")),
                    f"reviews[{index}].reviewer",
                    f"reviewer '{review.reviewer}' reviews this comparison twice",
                )
            )
        seen_reviewers.add(review.reviewer)
        for tool_slug in review.takes:
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
            if tool_slug not in review.takes:
                out.append(
                    Problem(
                        shown,
                        line_of(document, (*here, "takes")),
                        f"reviews[{index}].takes",
                        f"no take for tool '{tool_slug}'",
                    )
                )
    return out


# --- Loading -------------------------------------------------------------------------------


@dataclass
class LoadReport:
    reviewers: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated) or self.reviewers > 0


def load_content(session: Session, root: Path) -> LoadReport:
    """Check, then upsert by slug. Raises ContentError (and writes nothing) on any problem."""
    checked = check_content(root)
    if checked.problems:
        raise ContentError(checked.problems)
    report = LoadReport()
    serialize(session, "content-load")  # two loaders at once would both insert new slugs
    reviewer_ids = _load_reviewers(session, checked.reviewers, report)
    tool_ids = _load_tools(session, [t for _, c in checked.comparisons for t in c.tools])
    existing = {c.slug: c for c in session.exec(select(Comparison))}
    for shown, item in checked.comparisons:
        outcome = _load_comparison(
            session, existing.get(item.slug), item, shown, reviewer_ids, tool_ids
        )
        getattr(report, outcome).append(item.slug)
    session.flush()
    return report


def _load_reviewers(
    session: Session, items: list[ReviewerIn], report: LoadReport
) -> dict[str, int]:
    rows = {r.slug: r for r in session.exec(select(Reviewer))}
    for position, item in enumerate(items):
        values: dict[str, Any] = {"name": item.name, "lens": item.lens.value, "position": position}
        row = rows.get(item.slug)
        if row is None:
            rows[item.slug] = Reviewer(slug=item.slug, **values)
            session.add(rows[item.slug])
            report.reviewers += 1
        elif _assign(row, values):
            report.reviewers += 1
    session.flush()
    return {slug: row_id(row.id) for slug, row in rows.items()}


def _load_tools(session: Session, items: list[ToolIn]) -> dict[str, int]:
    rows = {t.slug: t for t in session.exec(select(Tool))}
    for item in items:
        values: dict[str, Any] = {
            "name": item.name,
            "vendor": item.vendor,
            "category": item.category,
            "tagline": item.tagline,
            "description": item.description,
            "pricing_entry": item.pricing.entry.value,
            "pricing_note": item.pricing.note,
            "url": item.url,
        }
        row = rows.get(item.slug)
        if row is None:
            rows[item.slug] = Tool(slug=item.slug, **values)
            session.add(rows[item.slug])
        else:
            _assign(row, values)
    session.flush()
    return {slug: row_id(row.id) for slug, row in rows.items()}


def _load_comparison(
    session: Session,
    row: Comparison | None,
    item: ComparisonIn,
    shown: str,
    reviewer_ids: dict[str, int],
    tool_ids: dict[str, int],
) -> str:
    """Upsert one comparison; returns 'created', 'updated' or 'unchanged'."""
    values: dict[str, Any] = {
        "title": item.title,
        "question": item.question,
        "published": item.published,
        "verdict": item.verdict,
        "source": shown,
    }
    links = sorted((tool_ids[t.slug], position) for position, t in enumerate(item.tools))
    reviews = sorted(
        (
            reviewer_ids[review.reviewer],
            tool_ids[t.slug],
            position,
            review.takes[t.slug].verdict.value,
            review.takes[t.slug].take,
        )
        for position, review in enumerate(item.reviews)
        for t in item.tools
    )
    if row is None:
        row = Comparison(slug=item.slug, **values)
        session.add(row)
        session.flush()
        outcome = "created"
    else:
        changed = _assign(row, values)
        old_links = list(
            session.exec(select(ComparisonTool).where(ComparisonTool.comparison_id == row.id))
        )
        old_reviews = list(session.exec(select(Review).where(Review.comparison_id == row.id)))
        same = links == sorted((x.tool_id, x.position) for x in old_links) and reviews == sorted(
            (r.reviewer_id, r.tool_id, r.position, r.verdict, r.take) for r in old_reviews
        )
        if same:
            if changed:
                row.loaded_at = utcnow()
            return "updated" if changed else "unchanged"
        for old in [*old_links, *old_reviews]:
            session.delete(old)
        session.flush()
        row.loaded_at = utcnow()
        outcome = "updated"
    comparison_id = row_id(row.id)
    session.add_all(
        ComparisonTool(comparison_id=comparison_id, tool_id=tool_id, position=position)
        for tool_id, position in links
    )
    session.add_all(
        Review(
            comparison_id=comparison_id,
            reviewer_id=reviewer_id,
            tool_id=tool_id,
            position=position,
            verdict=verdict,
            take=take,
        )
        for reviewer_id, tool_id, position, verdict, take in reviews
    )
    return outcome


def _assign(row: Any, values: dict[str, Any]) -> bool:
    """Set only the attributes that differ, so an unchanged row stays clean."""
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed
