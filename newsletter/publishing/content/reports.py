"""What checking and loading the editors' files tell the caller.

A problem names file, line and field, so an editor can fix it without reading code; the
CLI, the scheduler and the preview all print `str(problem)` as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from newsletter.core.errors import InvalidInput


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in one file. Ordered by file, then line, so a report reads top down."""

    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        """`file:line: field: reason` on one line, whatever the file held: a key or a value
        quoted in a message may carry a line break or a control character."""
        where = f"{self.path}:{self.line}"
        text = (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class ContentError(InvalidInput):
    """Raised by `load_content` when the files have problems; nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in content; nothing was loaded")


@dataclass
class LoadReport:
    """What a load changed, by slug: the CLI prints it, the scheduler logs it.

    `withdrawn` lists the comparisons whose file went missing since the last load, and
    `restored` those whose file came back; a comparison still missing is in neither, so a
    second load of the same files reports nothing new.
    """

    reviewers: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return (
            bool(self.created or self.updated or self.withdrawn or self.restored)
            or self.reviewers > 0
        )
