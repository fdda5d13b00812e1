"""What a check reports: one finding, an error (do not send) or a warning (worth a look)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One line of the report, `level: check: message`, as the CLI and the preview print it."""

    level: Level
    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.check}: {self.message}"
