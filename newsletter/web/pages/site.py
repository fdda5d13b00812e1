"""The public site: the home page with past issues, an issue's web version, a comparison's
page, the Atom feed, and the health check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse, Response
from sqlmodel import select

from newsletter.links import urls
from newsletter.links.urls import SiteUrls
from newsletter.publishing import site as published
from newsletter.publishing.models import ISSUE_NUMBER_MAX
from newsletter.web.deps import PagesDep, ServicesDep, SessionDep
from newsletter.web.params import is_slug

router = APIRouter(default_response_class=HTMLResponse)

FEED_LENGTH = 20

IssueNumber = Annotated[int, Path(ge=1, le=ISSUE_NUMBER_MAX)]
"""A number no issue can have (0, or past what the column holds) is no page: the styled
404, as for `/issues/abc`, never a database error."""


@router.get(urls.HOME)
def home(services: ServicesDep, session: SessionDep, pages: PagesDep) -> HTMLResponse:
    issues = published.published_issues(session, services.settings)
    return pages.render("index.html", issues=issues)


@router.get(urls.ISSUE)
def issue_page(
    services: ServicesDep, session: SessionDep, pages: PagesDep, number: IssueNumber
) -> HTMLResponse:
    view = published.issue_page(session, number, services.settings)
    return pages.render("issue.html", issue=view)


@router.get(urls.COMPARISON)
def comparison_page(
    services: ServicesDep, session: SessionDep, pages: PagesDep, slug: str
) -> HTMLResponse:
    """Text that no slug can be (`/comparisons/%00`, `/comparisons/One`) is no comparison,
    answered without a query: PostgreSQL would refuse a NUL rather than find nothing."""
    if not is_slug(slug):
        raise published.NoSuchComparison(f"no published comparison {slug!r}")
    view = published.comparison_page(session, slug, services.settings)
    return pages.render("comparison.html", comparison=view)


@router.get(urls.FEED)
def feed(services: ServicesDep, session: SessionDep) -> Response:
    """Absolute URLs: a feed reader has no page to resolve relative ones against."""
    issues = published.published_issues(session, services.settings, limit=FEED_LENGTH)
    body = services.templates.get_template("feed.xml").render(
        issues=issues,
        urls=SiteUrls(services.settings.site_url),
        title=services.settings.from_name,
        updated=max((i.published_at for i in issues), default=None),
    )
    return Response(body, media_type="application/atom+xml")


@router.get(urls.HEALTH, include_in_schema=False)
def health(session: SessionDep) -> Response:
    session.exec(select(1)).one()
    return Response("ok", media_type="text/plain")
