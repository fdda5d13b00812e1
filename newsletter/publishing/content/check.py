"""Checking a content folder: reviewers.yaml and comparisons/*.yaml, every problem at once.

An editor fixes files in one pass only if one run reports everything, so nothing here
stops at the first problem: a file's field problems, its references (reviewers, takes) and
its clashes with other files are all reported in the same run, and a file that cannot be
parsed is skipped while the rest are still checked. Writes nothing; `load_content` runs
this first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from newsletter.publishing.content.lines import damaged, line_of, read_yaml
from newsletter.publishing.content.reports import Problem
from newsletter.publishing.content.rules import (
    AcrossFiles,
    Written,
    comparison_problems,
    sigil_problems,
)
from newsletter.publishing.content.schema import ComparisonIn, ReviewerIn
from newsletter.publishing.content.wording import validate

REVIEWERS_FILE = "reviewers.yaml"
COMPARISONS_FOLDER = "comparisons"
SUFFIXES = frozenset({".yaml", ".yml"})


@dataclass
class ContentSet:
    """Everything under a content folder, checked. `reviewers` and `comparisons` hold the
    entries without any problem; `problems` every problem, ordered by file and line."""

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
    panel = _check_reviewers(result, root / REVIEWERS_FILE)
    comparisons_dir = root / COMPARISONS_FOLDER
    if comparisons_dir.is_dir():
        _check_comparisons(result, comparisons_dir, panel)
    else:
        result.problems.append(Problem(_display(comparisons_dir, root), 1, "", "folder not found"))
    result.problems.sort()
    return result


def _display(path: Path, root: Path) -> str:
    """The path as editors see it: from the content folder's parent ('content/...')."""
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def _check_reviewers(result: ContentSet, path: Path) -> set[str] | None:
    """Check the panel; returns every reviewer slug it names validly (even for a reviewer
    with another problem, so comparisons citing them are not also reported), or None when
    the file could not be read as a list."""
    problems = result.problems
    shown = _display(path, result.root)
    if not path.is_file():
        problems.append(Problem(shown, 1, "", "file not found: the reviewer panel is required"))
        return None
    document = read_yaml(path, shown, problems)
    if document is None:
        return None
    if not isinstance(document, list):
        problems.append(Problem(shown, 1, "", "must be a list of reviewers"))
        return None
    problems += sigil_problems(document, shown)
    slugs: dict[str, int] = {}
    quiet = damaged(document)
    for index in range(len(document)):
        checked = validate(ReviewerIn, document, shown, (index,), quiet)
        problems += checked.problems
        slug = Written(shown, document, checked.broken | quiet).valid(index, "slug")
        if slug is not None and slug in slugs:
            problems.append(
                Problem(
                    shown,
                    line_of(document, (index, "slug")),
                    f"[{index}].slug",
                    f"duplicate reviewer slug '{slug}' (first on line {slugs[slug]})",
                )
            )
        elif slug is not None:
            slugs[slug] = line_of(document, (index, "slug"))
            if checked.value is not None:
                result.reviewers.append(checked.value)
    return set(slugs)


def _check_comparisons(result: ContentSet, folder: Path, panel: set[str] | None) -> None:
    across = AcrossFiles()
    for path in sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES):
        shown = _display(path, result.root)
        found: list[Problem] = []
        document = read_yaml(path, shown, found)
        if document is not None and not isinstance(document, dict):
            found.append(Problem(shown, 1, "", "must be a mapping (slug: …, title: …)"))
        elif document is not None:
            quiet = damaged(document)
            checked = validate(ComparisonIn, document, shown, quiet=quiet)
            written = Written(shown, document, checked.broken | quiet)
            found += sigil_problems(document, shown)
            found += checked.problems
            found += comparison_problems(written, path, panel)
            found += across.problems(written)
            if not found and checked.value is not None:
                result.comparisons.append((shown, checked.value))
        result.problems += found
