"""Every public URL, in one place: the routes are declared with these paths, and every link
in an email, a feed or a page is built from them.

`SiteUrls(base)` gives absolute URLs (emails, the feed); `SiteUrls("")` gives site-relative
ones (links inside the site's own pages).
"""

from __future__ import annotations

from typing import Final

HOME: Final = "/"
SUBSCRIBE: Final = "/subscribe"
CONFIRM: Final = "/confirm/{token}"
UNSUBSCRIBE: Final = "/unsubscribe/{token}"
RESUBSCRIBE: Final = "/resubscribe/{token}"
VOTE: Final = "/vote/{token}"
VOTE_CHOICE: Final = "/vote/{token}/{comparison}/{tool}"
"""A vote link of an issue's email: the recipient's one token, then what it votes for.
Under the same prefix as `VOTE` (whose token holds the choice), so everything that knows the
service's vote links by their prefix (click tracking, the stand-in) knows these too."""
ISSUE: Final = "/issues/{number}"
COMPARISON: Final = "/comparisons/{slug}"
FEED: Final = "/feed.xml"
HEALTH: Final = "/healthz"


def link_prefix(path: str) -> str:
    """The part of a path before its one parameter: '/vote/{token}' -> '/vote/'."""
    return path.partition("{")[0]


class SiteUrls:
    """The public URLs under one base (`NEWSLETTER_SITE_URL`, without a trailing slash)."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        # Prefixes for the per-recipient links a send builds millions of times.
        self.confirm_base = self.base + link_prefix(CONFIRM)
        self.unsubscribe_base = self.base + link_prefix(UNSUBSCRIBE)
        self.resubscribe_base = self.base + link_prefix(RESUBSCRIBE)
        self.vote_base = self.base + link_prefix(VOTE)

    def home(self) -> str:
        return self.base + HOME

    def subscribe(self) -> str:
        return self.base + SUBSCRIBE

    def confirm(self, token: str) -> str:
        return self.confirm_base + token

    def unsubscribe(self, token: str) -> str:
        return self.unsubscribe_base + token

    def resubscribe(self, token: str) -> str:
        return self.resubscribe_base + token

    def vote(self, token: str) -> str:
        return self.vote_base + token

    def vote_choice(self, token: str, comparison_id: int, tool_id: int) -> str:
        return f"{self.vote_base}{token}/{comparison_id}/{tool_id}"

    def issue(self, number: int) -> str:
        return self.base + ISSUE.format(number=number)

    def comparison(self, slug: str) -> str:
        return self.base + COMPARISON.format(slug=slug)

    def feed(self) -> str:
        return self.base + FEED
