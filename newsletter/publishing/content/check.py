"""Checking a content folder: reviewers.yaml and comparisons/*.yaml, every problem at once.

An editor fixes files in one pass only if one run reports everything, so nothing here
stops at the first problem: a file's field problems, its references (reviewers, takes) and
its clashes with other files are all reported in the same run, and a file that cannot be
parsed is skipped while the rest are still checked. Writes nothing; `load_content` runs
this first.

What is read is decided by name, as an editor would expect: `comparisons/*.yaml`, skipping
what editors leave behind (dotfiles such as Emacs' `.#x.yaml` lock or Vim's `.x.yaml.swp`,
backups ending in `~`); a look-alike (`x.yml`, `X.YAML`) is reported rather than read or
ignored, so that a comparison is never silently missing. Nothing is read through a link
that leads out of the content folder: the weekly job must not publish a file nobody put
there.
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
SUFFIX = ".yaml"
LOOK_ALIKES = frozenset({".yaml", ".yml"})
"""Suffixes, lowercased, of a file meant to be read; only `SUFFIX` exactly is read."""


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
    entries = _listing(result, comparisons_dir)
    if entries is not None:
        _check_comparisons(result, entries, panel)
    result.problems.sort()
    return result


def _outside(path: Path, root: Path) -> bool:
    """True when `path` leads, through links, out of the content folder `root`. A link
    that loops is not outside: reading it reports the loop."""
    try:
        return not path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # RuntimeError: a loop, before Python 3.13
        return False


def _readable(result: ContentSet, path: Path) -> bool:
    """False, after reporting it, when `path` is a link out of the content folder."""
    if not _outside(path, result.root):
        return True
    shown = _display(path, result.root)
    message = "is a link to outside the content folder; not read"
    result.problems.append(Problem(shown, 1, "", message))
    return False


def _listing(result: ContentSet, folder: Path) -> list[Path] | None:
    """The entries of the comparisons folder, or None after saying why there are none."""
    shown = _display(folder, result.root)
    if _missing(folder):
        result.problems.append(Problem(shown, 1, "", "folder not found"))
        return None
    if not _readable(result, folder):
        return None
    try:
        return sorted(folder.iterdir())
    except NotADirectoryError:
        result.problems.append(Problem(shown, 1, "", "is a file, not a folder"))
    except OSError as exc:
        result.problems.append(Problem(shown, 1, "", f"cannot be read ({exc.strerror or exc})"))
    return None


def _missing(path: Path) -> bool:
    """True when nothing is at `path`. Unlike `Path.exists`, a place that cannot be looked
    at (no permission) is not missing: reading it says why it cannot be read."""
    try:
        path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False
    return False


def _left_behind(name: str) -> bool:
    """An editor's lock, swap or backup file, or another hidden file: never content."""
    return name.startswith(".") or name.endswith("~") or (name[:1] == name[-1:] == "#")


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
    for look_alike in _look_alikes(path):
        problems.append(
            Problem(_display(look_alike, result.root), 1, "", f"not read: name it {path.name}")
        )
    if _missing(path):
        problems.append(Problem(shown, 1, "", "file not found: the reviewer panel is required"))
        return None
    if not _readable(result, path):
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


def _look_alikes(path: Path) -> list[Path]:
    """Files next to `path` that an editor may have meant as it: `reviewers.yml`."""
    try:
        return sorted(
            other
            for other in path.parent.iterdir()
            if other.name != path.name
            and not _left_behind(other.name)
            and other.stem.lower() == path.stem
            and other.suffix.lower() in LOOK_ALIKES
        )
    except OSError:  # an unlistable folder: reading the panel itself says what is wrong
        return []


def _check_comparisons(result: ContentSet, entries: list[Path], panel: set[str] | None) -> None:
    across = AcrossFiles()
    for path in entries:
        if _left_behind(path.name) or path.suffix.lower() not in LOOK_ALIKES:
            continue
        shown = _display(path, result.root)
        if path.suffix != SUFFIX:
            message = f"not read: use the {SUFFIX} extension ({path.stem}{SUFFIX})"
            result.problems.append(Problem(shown, 1, "", message))
            continue
        if not _readable(result, path):
            continue
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
