"""The editor's local preview (`newsletter preview`); mounted only when asked for.

What a request sent (a week, a slug) and what went wrong (a file's problems, which may quote
it) reach a page only through autoescaped templates, and a link only through `urlencode`.
The email itself is shown in the page's frames under a policy of its own
(`security.FRAME_HEADERS`). The server answers only for loopback names (`security`).
"""

from __future__ import annotations

from typing import Annotated, Final, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

from newsletter.core.errors import NotFound
from newsletter.core.text import visible
from newsletter.publishing.models import ISSUE_NUMBER_MAX
from newsletter.publishing.preview import (
    ComparisonNotFound,
    Preview,
    PreviewCache,
    PreviewFailure,
    comparison_preview,
    force_dark,
)
from newsletter.web.deps import Services, ServicesDep
from newsletter.web.params import NoControls, is_slug
from newsletter.web.security import FRAME_HEADERS

PREFIX: Final = "/preview"
"""Where the preview lives; its errors are answered in JSON with their detail (`errors`)."""

router = APIRouter(prefix=PREFIX, include_in_schema=False)

Week = Annotated[str | None, Query(max_length=10), NoControls]
Number = Annotated[int | None, Query(ge=1, le=ISSUE_NUMBER_MAX)]
Scheme = Annotated[Literal["light", "dark"], Query()]
View = Annotated[Literal["both", "desktop", "phone"], Query()]


def _cache(services: ServicesDep) -> PreviewCache:
    if services.preview is None:
        raise HTTPException(404, "the preview is not enabled")
    return services.preview


def _query(week: str | None, number: int | None, **extra: str) -> str:
    """The query string of a link that keeps showing the same issue: every value encoded,
    so a week such as `x&number=5` stays one value and cannot add a parameter."""
    parts = {"week": week, "number": str(number) if number else None, **extra}
    return urlencode({k: v for k, v in parts.items() if v})


def _problems(
    services: Services, request: Request, failure: PreviewFailure, code: int, heading: str = ""
) -> HTMLResponse:
    """A failure shown where the email would be (in a frame, or alone), escaped by the
    template like every page."""
    return services.templates.TemplateResponse(
        request,
        "preview_problems.html",
        {"problems": failure.problems, "heading": heading},
        status_code=code,
        headers=FRAME_HEADERS,
    )


def _email(html: str, scheme: str) -> HTMLResponse:
    return HTMLResponse(force_dark(html) if scheme == "dark" else html, headers=FRAME_HEADERS)


@router.get("", response_class=HTMLResponse)
def preview_page(
    services: ServicesDep,
    request: Request,
    week: Week = None,
    number: Number = None,
    scheme: Scheme = "light",
    view: View = "both",
) -> HTMLResponse:
    cache = _cache(services)
    result = cache.get(week=week, number=number)
    return services.templates.TemplateResponse(
        request,
        "preview.html",
        {
            "result": result,
            "failed": isinstance(result, PreviewFailure),
            "scheme": scheme,
            "view": view,
            "week": week,
            "number": number,
            "frame_url": f"{PREFIX}/email?{_query(week, number, scheme=scheme)}",
            "version_url": f"{PREFIX}/version",
            "query": lambda **extra: _query(
                week, number, **({"scheme": scheme, "view": view} | extra)
            ),
            "version": cache.version(),
            "from_name": services.settings.from_name,
            "from_email": services.settings.from_email,
        },
        status_code=200 if isinstance(result, Preview) else 422,
    )


@router.get("/email", response_class=HTMLResponse)
def preview_email(
    services: ServicesDep,
    request: Request,
    week: Week = None,
    number: Number = None,
    scheme: Scheme = "light",
) -> HTMLResponse:
    result = _cache(services).get(week=week, number=number)
    if isinstance(result, PreviewFailure):
        return _problems(services, request, result, 422)
    return _email(result.html, scheme)


@router.get("/text", response_class=PlainTextResponse)
def preview_text(services: ServicesDep, week: Week = None, number: Number = None) -> str:
    result = _cache(services).get(week=week, number=number)
    if isinstance(result, PreviewFailure):
        raise HTTPException(422, "; ".join(result.problems))
    return result.text


@router.get("/version", response_class=PlainTextResponse)
def preview_version(services: ServicesDep) -> str:
    """What the page polls: it reloads itself when the files change, or an issue does (an
    `issue remove` or `issue approve` from the command line changes no file)."""
    return _cache(services).version()


@router.get("/comparisons/{slug}", response_class=HTMLResponse)
def preview_comparison(
    services: ServicesDep, request: Request, slug: str, scheme: Scheme = "light"
) -> HTMLResponse:
    if not is_slug(slug):  # not looked up: PostgreSQL would refuse a NUL rather than miss
        return _problems(services, request, _not_a_slug(slug), 404, "Cannot preview")
    result = comparison_preview(services.engine, services.settings, slug)
    if isinstance(result, PreviewFailure):
        missing = isinstance(result.error, NotFound)  # no such slug, as against a broken file
        return _problems(services, request, result, 404 if missing else 422, "Cannot preview")
    return _email(result.html, scheme)


def _not_a_slug(slug: str) -> PreviewFailure:
    """What an unknown slug gets, for text no slug can be; its characters shown as escapes."""
    message = (
        f"no comparison '{visible(slug)}': a slug is lower-case letters and digits, "
        "in runs joined by single hyphens"
    )
    return PreviewFailure([message], ComparisonNotFound(message))
