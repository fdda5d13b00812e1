"""Per-subscriber placeholders in the rendered snapshot, filled by delivery for each recipient.

One render serves every subscriber: the HTML and text carry these markers, and the
delivery backend replaces them (SendGrid `substitutions`, or a string replace in the
outbox). Content may not contain the sigil, so a marker can only come from a template.

The snapshot keeps the link markers (`UNSUBSCRIBE`, `VIEW`, one per vote): they say what each
link is for, whatever the snapshot's age. What fills them changed: a recipient's values
are now built from one token (`TOKEN`), and the SendGrid request rewrites the markers once
into links around `TOKEN`, so each recipient sends that one value.
"""

from __future__ import annotations

import re
from typing import Final

SIGIL: Final = "%%"
"""What opens and closes every marker. The content check refuses it in editors' text, so
delivery can never mistake a reader-visible string for a marker."""

TOKEN: Final = f"{SIGIL}t{SIGIL}"
"""The recipient's one token. A send lays every per-recipient link out around it (the
markers below become `{site}/vote/%%t%%/<comparison>/<tool>` and the like, once per
request), so a recipient's personalization carries one short value, not one per link."""
UNSUBSCRIBE: Final = f"{SIGIL}unsubscribe_url{SIGIL}"
VIEW: Final = f"{SIGIL}view_url{SIGIL}"
VOTE_MARKER: Final = re.compile(re.escape(SIGIL) + r"vote_(\d+)_(\d+)" + re.escape(SIGIL))
"""Any vote marker; its groups are the comparison id and the tool id."""
ANY_MARKER: Final = re.compile(re.escape(SIGIL) + r"\w+" + re.escape(SIGIL))
"""Any marker at all: what must be gone from a recipient's copy once it is filled."""


def vote(comparison_id: int, tool_id: int) -> str:
    """The marker for one vote link. It carries the database ids, so the frozen snapshot
    alone says what each link votes for, whatever happens to the content afterwards."""
    return f"{SIGIL}vote_{comparison_id}_{tool_id}{SIGIL}"


def vote_markers(text: str) -> list[tuple[int, int]]:
    """Every (comparison id, tool id) pair that has a vote marker in `text`, in order."""
    seen: dict[tuple[int, int], None] = {}
    for match in VOTE_MARKER.finditer(text):
        seen[(int(match[1]), int(match[2]))] = None
    return list(seen)


def unfilled(text: str) -> list[str]:
    """The distinct markers still in `text`, in order: each would reach a reader as is."""
    return list(dict.fromkeys(ANY_MARKER.findall(text)))


def fill(text: str, values: dict[str, str]) -> str:
    """Replace each marker by its value (what SendGrid's substitutions do)."""
    for marker, value in values.items():
        text = text.replace(marker, value)
    return text
