"""What an import reports: every bad row with its place, the counts, and why a file could
not be read at all."""

from __future__ import annotations

from dataclasses import dataclass, field

from subscribers.errors import InvalidSubscriberInput

BAD_ROWS_KEPT = 1000


@dataclass(frozen=True)
class BadRow:
    label: str
    line: int
    email: str  # the cell as written (empty when missing)
    reason: str

    def __str__(self) -> str:
        return f"{self.label}:{self.line}: {_shown(self.email)}: {self.reason}"


@dataclass
class ImportReport:
    label: str
    rows: int = 0  # data rows read (blank lines are not rows)
    imported: int = 0
    unchanged: int = 0  # already on the list (pending, active or unsubscribed)
    bad: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)  # the first BAD_ROWS_KEPT
    warnings: list[str] = field(default_factory=list)


class ImportFailed(InvalidSubscriberInput):
    """The file cannot be read (from some line on): the message names the place. Batches
    before that line are committed; `report` says what they did."""

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report


def _shown(value: str) -> str:
    """A cell as one printable line of a report."""
    if not value:
        return "(no email)"
    text = value if value.isprintable() else repr(value)
    return text if len(text) <= 120 else text[:119] + "…"
