"""Text that a request carries, checked at the edge before anything reaches the database.

PostgreSQL refuses a NUL in a text value and UTF-8 has no bytes for a lone surrogate (a JSON
body can carry one, `"\\ud800"`): reaching the database, either was a 500 rather than an
answer. So:

- `Text` for every string of a JSON body, `NoControls` for every string in a query: a
  string holding a control character (NUL, CR, LF, ESC...), a bidi control, an invisible
  format character, a surrogate or a non-character (what `newsletter.core.text.is_unsafe`
  names) is a 422 naming the parameter, as any other invalid value is. Names are the
  exception: cleaned, not refused (`subscribers.addresses.clean_name`).
- `is_slug`, for a slug in a path: text that no comparison's slug can be (the content
  schema's `Slug`: lower-case letters and digits in runs joined by single hyphens, at most
  100 characters) is answered as a slug that is not there, without a query.

`tests/newsletter/web/test_text.py` sends NUL and the other control characters to every
string parameter of every route, read from the app.
"""

from __future__ import annotations

from typing import Annotated, Final, TypeVar

from pydantic import AfterValidator, TypeAdapter, ValidationError

from newsletter.core.text import is_unsafe, visible
from newsletter.publishing.content.schema import Slug

_SLUG: Final = TypeAdapter(Slug)

T = TypeVar("T", str, str | None)


def is_slug(text: str) -> bool:
    """Whether `text` could be a comparison's slug: the content schema's own rule, so a
    slug a file may have is never turned away here."""
    try:
        _SLUG.validate_python(text, strict=True)
    except ValidationError:
        return False
    return True


def plain(text: T) -> T:
    """`text` unchanged (None too), or a ValueError (FastAPI's 422, naming the parameter)
    saying which character is refused and where, written visibly (`\\x00`, `\\u202e`)."""
    for position, char in enumerate(text or "", start=1):
        if is_unsafe(char):
            raise ValueError(
                f"must not contain control or invisible characters "
                f"({visible(char)} at character {position})"
            )
    return text


NoControls: Final = AfterValidator(plain)
"""For a query parameter, after its `Query`: `Annotated[str | None, Query(max_length=10),
NoControls]`. After, because FastAPI puts the `Query`'s bounds on what comes before them:
put on `Text | None`, a bound would apply to the union (its message speaking of "items")."""

Text = Annotated[str, NoControls]
"""A string of a JSON body, bounded where it is used: `reason: Text = Field(max_length=500)`."""
