"""Checking a content folder: reviewers.yaml and comparisons/*.yaml, every problem at once.

An editor fixes files in one pass only if one run reports everything, so nothing here
stops at the first problem: a file that cannot be parsed is skipped, the rest are
still checked. Writes nothing; `load_content` runs this first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from newsletter.publishing.content.lines import line_of, read_yaml
from newsletter.publishing.content.reports import Problem
from newsletter.publishing.content.rules import AcrossFiles, comparison_problems, sigil_problems
from newsletter.publishing.content.schema import ComparisonIn, ReviewerIn, schema_problems

REVIEWERS_FILE = "reviewers.yaml"
COMPARISONS_FOLDER = "comparisons"
SUFFIXES = frozenset({".yaml", ".yml"})


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


def check_content(root: Path) -> ContentSet:
    """Read and check every file under `root`; writes nothing."""
    result = ContentSet(root=root)
    _check_reviewers(result, root / REVIEWERS_FILE)
    comparisons_dir = root / COMPARISONS_FOLDER
    if not comparisons_dir.is_dir():
        result.problems.append(Problem(_display(comparisons_dir, root), 1, "", "folder not found"))
        return result
    _check_comparisons(result, comparisons_dir)
    result.problems.sort()
    return result


def _display(path: Path, root: Path) -> str:
    """The path as editors see it: from the content folder's parent ('content/...')."""
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def _check_reviewers(result: ContentSet, path: Path) -> None:
    problems = result.problems
    shown = _display(path, result.root)
    if not path.is_file():
        problems.append(Problem(shown, 1, "", "file not found: the reviewer panel is required"))
        return
    document = read_yaml(path, shown, problems)
    if document is None:
        return
    if not isinstance(document, list):
        problems.append(Problem(shown, 1, "", "must be a list of reviewers"))
        return
    seen: dict[str, int] = {}
    for index, item in enumerate(document):
        try:
            reviewer = ReviewerIn.model_validate(item)
        except ValidationError as exc:
            problems += schema_problems(exc, document, shown, (index,))
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
    problems += sigil_problems(document, shown)


def _check_comparisons(result: ContentSet, folder: Path) -> None:
    problems = result.problems
    reviewer_slugs = {r.slug for r in result.reviewers}
    across = AcrossFiles()
    for path in sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES):
        shown = _display(path, result.root)
        document = read_yaml(path, shown, problems)
        if document is None:
            continue
        if not isinstance(document, dict):
            problems.append(Problem(shown, 1, "", "must be a mapping (slug: …, title: …)"))
            continue
        problems += sigil_problems(document, shown)
        try:
            comparison = ComparisonIn.model_validate(document)
        except ValidationError as exc:
            problems += schema_problems(exc, document, shown)
            continue
        found = comparison_problems(comparison, document, shown, reviewer_slugs, path)
        found += across.problems(comparison, document, shown)
        problems += found
        if not found:
            result.comparisons.append((shown, comparison))
