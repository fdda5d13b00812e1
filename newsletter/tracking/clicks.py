"""Clicks: which link of an issue, counted once per recipient, and never the service's own
action links.

A click on a vote, unsubscribe, confirm or resubscribe link, or on the "view online" link,
is someone using the service, not reading the issue: counting it would make an issue whose
readers vote a lot look "clicked". Those are recognised by their prefix under
`settings.site_url` (`newsletter.links.urls` builds them) and are stored without their
token, since a token is a credential and the event row needs none.

Each other URL is kept once per issue in `issue_link` (keyed by the SHA-256 of the URL,
since URLs are too long for an index) with the number of recipients who clicked it; a
recipient's click is kept once in `link_click`, and only a new `link_click` adds to
`issue_link.clicks`.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable

from sqlmodel import Session

from newsletter.core.sql import table_of
from newsletter.links.urls import ISSUE, SiteUrls
from newsletter.tracking.dialect import upsert
from newsletter.tracking.models import URL_MAX, IssueLink, LinkClick

_link = table_of(IssueLink)
_click = table_of(LinkClick)


class OwnLinks:
    """The prefixes of the service's own action links under one site URL."""

    def __init__(self, site_url: str) -> None:
        urls = SiteUrls(site_url)
        self.prefixes = (
            urls.vote_base,
            urls.unsubscribe_base,
            urls.confirm_base,
            urls.resubscribe_base,
            urls.base + ISSUE.partition("{")[0],  # the "view online" link: /issues/<n>
        )

    def prefix_of(self, url: str) -> str | None:
        """The action-link prefix `url` begins with, None for any other link."""
        for prefix in self.prefixes:
            if url.startswith(prefix):
                return prefix
        return None


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def write_clicks(session: Session, clicks: Iterable[tuple[int, int, str]]) -> None:
    """Record (issue id, subscriber id, url) clicks: a recipient's first click on a link adds
    one to that link's count; the same recipient clicking it again adds nothing."""
    urls: dict[tuple[int, str], str] = {}
    rows = []
    for issue_id, subscriber_id, url in sorted(set(clicks)):
        digest = url_hash(url)
        urls[(issue_id, digest)] = url
        rows.append({"issue_id": issue_id, "url_hash": digest, "subscriber_id": subscriber_id})
    if not rows:
        return
    connection = session.connection()
    new = connection.execute(
        upsert(session, _click)
        .on_conflict_do_nothing()
        .returning(_click.c.issue_id, _click.c.url_hash),
        rows,
    )
    counts = Counter((int(issue_id), str(digest)) for issue_id, digest in new)
    if not counts:
        return
    statement = upsert(session, _link)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[_link.c.issue_id, _link.c.url_hash],
            set_={"clicks": _link.c.clicks + statement.excluded.clicks},
        ),
        [
            {"issue_id": issue_id, "url_hash": digest, "url": urls[key][:URL_MAX], "clicks": n}
            for key, n in sorted(counts.items())
            for issue_id, digest in [key]
        ],
    )
