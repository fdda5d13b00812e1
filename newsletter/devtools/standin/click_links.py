"""Which link a simulated reader clicks: one SendGrid's click tracking would report.

SendGrid reports a click only on a link it rewrote: an `<a href>` of the HTML part without
the attribute `clicktracking="off"`. The service marks the links that act for the subscriber
that way; as a second guard (a message built before that marking existed) a link to one of
the service's action routes (unsubscribe, resubscribe, vote, confirm) is never clicked
either, so a simulated click can never stand for a vote or an opt-out.
"""

from __future__ import annotations

import html
import random
import re
from collections.abc import Mapping, Sequence
from typing import Final
from urllib.parse import urlsplit

from newsletter.devtools.standin.records import substitute
from newsletter.links import urls

_ANCHOR: Final = re.compile(r"<a\b([^>]*)>", re.IGNORECASE)
_HREF: Final = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_UNTRACKED: Final = re.compile(r"""\bclicktracking\s*=\s*["']?off\b""", re.IGNORECASE)
ACTION_PREFIXES: Final = tuple(
    path.partition("{")[0] for path in (urls.UNSUBSCRIBE, urls.RESUBSCRIBE, urls.VOTE, urls.CONFIRM)
)


def click_candidates(html_part: str) -> list[str]:
    """The hrefs of the tracked links of an HTML part, in order, unsubstituted."""
    found: list[str] = []
    for match in _ANCHOR.finditer(html_part):
        attributes = match.group(1)
        if _UNTRACKED.search(attributes):
            continue
        href = _HREF.search(attributes)
        if href is not None:
            found.append(html.unescape(next(g for g in href.groups() if g is not None)))
    return found


def clickable(url: str) -> bool:
    """An http(s) link that is none of the service's action links."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    return not parts.path.startswith(ACTION_PREFIXES)


def pick_click_url(
    candidates: Sequence[str], substitutions: Mapping[str, str], key: str
) -> str | None:
    """One clickable link of `candidates` as this recipient got it (their substitutions
    applied), chosen by `key` so a seeded run picks the same; None when there is none."""
    links = [url for url in (substitute(c, substitutions) for c in candidates) if clickable(url)]
    if not links:
        return None
    return random.Random(key).choice(links)
