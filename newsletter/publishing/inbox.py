"""What an inbox shows of an issue, and the limits that keep it whole, defined once.

The renderer writes the subject and preheader to fit these limits and the editor's checks
hold any snapshot to them, so both read the numbers from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

SUBJECT_MAX: Final = 80
"""Characters of a subject line; longer ones are cut off in most inbox lists."""
PREHEADER_MAX: Final = 140
"""Characters of the preheader (the preview text after the subject); clients show less."""
GMAIL_CLIP_KB: Final = 102
"""Gmail clips a message's HTML past about this many kilobytes and hides the rest: the
footer, with its unsubscribe link, is what disappears first."""


class Headed(Protocol):
    """What the subject and preheader are made of: a comparison's title and verdict."""

    @property
    def title(self) -> str: ...

    @property
    def verdict(self) -> str: ...


_TRAILING: Final = " \t,;:-–—·/&("
"""What a cut must not end on: a dangling separator reads as if a word went missing."""


def shorten(text: str, limit: int) -> str:
    """`text` cut with an ellipsis to at most `limit` characters, at a word boundary: an
    inbox line that stops at "Mistral Lar…" reads as a typo, one that stops at "Mistral…"
    reads as cut. A single word longer than the whole room is cut where it must be."""
    if len(text) <= limit:
        return text
    room = text[: limit - 1]
    if not text[limit - 1].isspace():  # the cut falls inside a word: drop that word
        head, space, _ = room.rpartition(" ")
        room = head if space and head.strip() else room
    return room.rstrip(_TRAILING) + "…"


def subject_line(number: int, comparisons: Sequence[Headed]) -> str:
    """'Verdicts #12: A vs B (+2 more)', cut with an ellipsis to fit an inbox line."""
    more = f" (+{len(comparisons) - 1} more)" if len(comparisons) > 1 else ""
    head = f"Verdicts #{number}: "
    title = comparisons[0].title if comparisons else "this week's comparisons"
    return f"{head}{shorten(title, SUBJECT_MAX - len(head) - len(more))}{more}"


def preheader_line(comparisons: Sequence[Headed]) -> str:
    """The first verdict, then the other comparisons' titles, cut to the preheader limit."""
    text = comparisons[0].verdict if comparisons else ""
    if len(comparisons) > 1:
        text += " Also: " + "; ".join(c.title for c in comparisons[1:]) + "."
    return shorten(text, PREHEADER_MAX)
