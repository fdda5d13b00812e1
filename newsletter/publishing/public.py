"""The public site's look-ups that must find something.

`site` answers None for an issue or a comparison that is not public yet; a page asked for
one has nothing to show, so here a miss is a `NotFound` the web app answers with 404 like
every other missing thing.
"""

from __future__ import annotations

from sqlmodel import Session

from newsletter.core.errors import NotFound
from newsletter.core.settings import Settings
from newsletter.publishing import site
from newsletter.publishing.render import ComparisonView


class NoSuchIssue(NotFound):
    """No published issue has that number (it is a draft, or it never existed)."""


class NoSuchComparison(NotFound):
    """No published comparison has that slug (renamed, or not public yet)."""


def issue_web_version(session: Session, number: int, settings: Settings) -> str:
    """The web version of a published issue; NoSuchIssue otherwise."""
    issue = site.published_issue(session, number)
    if issue is None:
        raise NoSuchIssue(f"no published issue #{number}")
    return site.web_version(issue, settings)


def comparison_view(session: Session, slug: str, settings: Settings) -> ComparisonView:
    """A published comparison's page; NoSuchComparison otherwise."""
    view = site.comparison_page(session, slug, settings)
    if view is None:
        raise NoSuchComparison(f"no published comparison {slug!r}")
    return view
