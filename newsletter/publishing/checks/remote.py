"""The one check that goes on the network: do the email's links answer?

Kept apart because it is slow, optional (`newsletter issue check --links`) and the only
check whose result depends on other people's servers.

Fetching never acts: every per-subscriber link the service sends (confirm, vote,
unsubscribe, resubscribe) answers HEAD and GET with a page that only shows what the link
would do (its button, a POST, acts; the site's pages answer GET), so checking the links of an
email, the sample subscriber's or a real one's, votes, confirms and unsubscribes nobody.
The checker sends HEAD first and GET only where HEAD is refused, and never POSTs.
"""

from __future__ import annotations

from collections.abc import Collection

import httpx

from newsletter.publishing.checks.findings import Finding, Level
from newsletter.publishing.checks.html import collect


def check_links_answer(
    html: str, timeout: float = 5.0, *, published_later: Collection[str] = ()
) -> list[Finding]:
    """Optional (`--links`): every distinct http(s) link answers below 400. A link in
    `published_later` (the issue's own web version, which exists once the issue has gone
    out) answering 404 is a warning that says so, not an error."""
    findings = []
    seen: set[str] = set()
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        for link in collect(html).links:
            if not link.href.startswith(("http://", "https://")) or link.href in seen:
                continue
            seen.add(link.href)
            try:
                answer = client.head(link.href)
                if answer.status_code in {405, 501}:
                    answer = client.get(link.href)
            except httpx.HTTPError as exc:
                findings.append(
                    Finding(Level.ERROR, "links", f"{link.href} did not answer ({exc})")
                )
                continue
            if answer.status_code == 404 and link.href in published_later:
                findings.append(
                    Finding(
                        Level.WARNING,
                        "links",
                        f"{link.href} answered 404: the web version is published when the "
                        "issue goes out",
                    )
                )
            elif answer.status_code >= 400:
                findings.append(
                    Finding(Level.ERROR, "links", f"{link.href} answered {answer.status_code}")
                )
    return findings
