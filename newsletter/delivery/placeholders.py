"""Per-subscriber placeholders in the rendered snapshot, filled by delivery for each recipient.

One render serves every subscriber: the HTML and text carry these markers, and the
delivery backend replaces them (SendGrid `substitutions`, or a string replace in the
outbox). Content may not contain the sigil, so a marker can only come from a template.
"""

from __future__ import annotations

import re

UNSUBSCRIBE = "%%unsubscribe_url%%"
VIEW = "%%view_url%%"
_VOTE = re.compile(r"%%vote_(\d+)_(\d+)%%")


def vote(comparison_id: int, tool_id: int) -> str:
    """The marker for one vote link. It carries the database ids, so the frozen snapshot
    alone says what each link votes for, whatever happens to the content afterwards."""
    return f"%%vote_{comparison_id}_{tool_id}%%"


def vote_markers(text: str) -> list[tuple[int, int]]:
    """Every (comparison id, tool id) pair that has a vote marker in `text`, in order."""
    seen: dict[tuple[int, int], None] = {}
    for match in _VOTE.finditer(text):
        seen[(int(match[1]), int(match[2]))] = None
    return list(seen)


def fill(text: str, values: dict[str, str]) -> str:
    """Replace each marker by its value (what SendGrid's substitutions do)."""
    for marker, value in values.items():
        text = text.replace(marker, value)
    return text
