"""Links SendGrid's click tracking must leave alone, marked with its `clicktracking="off"`.

With click tracking on, SendGrid rewrites every link of the HTML part into a redirect
through its own domain, unless the `<a>` tag carries `clicktracking="off"`. The links that
act for the subscriber (vote, unsubscribe, view in the browser, confirm) must never be
rewritten: a redirect through a third party changes what the subscriber's click does and
who learns of it, mail scanners following the redirect would count as clicks, and a vote
would turn into a tracked click. MJML drops attributes it does not know, so the mark is
added here, to the HTML as it leaves for SendGrid: once per message (it is cached), to each
`<a>` whose `href` holds a per-recipient placeholder (a whole link, or the recipient's token
inside one) or begins with one of the message's action URLs. Every other link (the tools'
sites, the site's comparison pages) is content and stays trackable.

The tags are found by the standard library's HTML tokenizer, not by a pattern: it knows
comments, `<script>`/`<style>` bodies and quoted attributes, so a `<a` inside any of them is
never taken for a link, and an `href` is read as a browser reads it (entities decoded,
any quoting). The HTML is otherwise left byte for byte as it was: the attribute is inserted
right after the tag's name, and nothing else is rewritten.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from html.parser import HTMLParser
from typing import Final

from newsletter.delivery import placeholders

MARK: Final = ' clicktracking="off"'
"""What is inserted after `<a`: SendGrid's per-link switch (HTML part only)."""
_NEWLINE: Final = re.compile("\n")  # the tokenizer counts lines by LF alone


class _LinkFinder(HTMLParser):
    """Collects the offsets of the `<a>` start tags to mark."""

    def __init__(self, html: str, action_urls: Sequence[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.html = html
        self.action_urls = tuple(action_urls)
        self.line_starts = [0, *(m.end() for m in _NEWLINE.finditer(html))]
        self.offsets: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._consider(tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._consider(tag, attrs)

    def _consider(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        names = {name for name, _ in attrs}
        if "clicktracking" in names:
            return  # already says what it wants
        href = next((value for name, value in attrs if name == "href"), None)
        if href is None or not acts_for_the_recipient(href.strip(), self.action_urls):
            return
        line, column = self.getpos()
        offset = self.line_starts[line - 1] + column
        # The tokenizer reports where the tag starts; it begins with "<a" (any case).
        assert self.html[offset : offset + 2].lower() == "<a", offset
        self.offsets.append(offset + 2)


def acts_for_the_recipient(href: str, action_urls: Sequence[str]) -> bool:
    """Whether a link acts for the recipient: its address holds a per-recipient placeholder
    (filled per recipient: a whole link, `%%unsubscribe_url%%`, or the token inside one,
    `.../vote/%%t%%/1/2`) or begins with one of the site's action URLs."""
    if placeholders.SIGIL in href and placeholders.ANY_MARKER.search(href):
        return True
    return any(href.startswith(prefix) for prefix in action_urls if prefix)


def action_link_offsets(html: str, action_urls: Sequence[str] = ()) -> list[int]:
    """Where `MARK` goes in `html`: just after the `<a` of each link to mark, in order."""
    finder = _LinkFinder(html, action_urls)
    finder.feed(html)
    finder.close()
    return finder.offsets


@lru_cache(maxsize=16)
def mark_action_links(html: str, action_urls: tuple[str, ...] = ()) -> str:
    """`html` with `clicktracking="off"` on every link that acts for the recipient.

    Cached: every batch of a send carries the same HTML (the same string object, so a hit
    costs a hash lookup), and tokenizing it is the expensive part.
    """
    offsets = action_link_offsets(html, action_urls)
    if not offsets:
        return html
    parts: list[str] = []
    start = 0
    for offset in offsets:
        parts += (html[start:offset], MARK)
        start = offset
    parts.append(html[start:])
    return "".join(parts)
