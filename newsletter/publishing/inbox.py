"""What an inbox shows of an issue, and the limits that keep it whole, defined once.

The renderer writes the subject and preheader to fit these limits and the editor's checks
hold any snapshot to them, so both read the numbers from here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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


SEPARATORS: Final = ",;:.!?…-–—·/&("
"""What a cut drops from the end of what it keeps (besides spaces): a dangling separator
reads as if a word went missing, and a word's own trailing comma or full stop is not part
of the word."""


def _dangles(char: str) -> bool:
    return char.isspace() or char in SEPARATORS


def _trimmed(text: str) -> str:
    """`text` without the spaces and separators at its end."""
    end = len(text)
    while end and _dangles(text[end - 1]):
        end -= 1
    return text[:end]


def _word_ends(text: str) -> Iterator[int]:
    """Where each word (a run of non-space characters) of `text` ends."""
    for i, char in enumerate(text):
        if not char.isspace() and (i + 1 == len(text) or text[i + 1].isspace()):
            yield i + 1


def shorten(text: str, limit: int) -> str:
    """`text` cut with an ellipsis to at most `limit` characters, at a word boundary: an
    inbox line that stops at "Mistral Lar…" reads as a typo, one that stops at "Mistral…"
    reads as cut. The cut keeps as many whole words as fit, a word followed by a comma or
    a colon included ("Alpha vs Beta, and…" keeps "Alpha vs Beta"), and drops what would
    dangle. A first word longer than the whole room is cut where it must be."""
    if limit < 1:
        raise ValueError(f"no room to shorten into: limit {limit}")
    if len(text) <= limit:
        return text
    room = limit - 1  # the ellipsis takes one
    kept = ""
    for end in _word_ends(text):  # each trimmed head is at least as long as the one before
        head = _trimmed(text[:end])
        if len(head) > room:
            break
        kept = head
    return (kept or _trimmed(text[:room])) + "…"


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
