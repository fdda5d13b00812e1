"""The editor's local preview (`newsletter preview`); mounted only when asked for."""

from __future__ import annotations

from html import escape
from typing import Annotated, Final, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

from newsletter.core.errors import NotFound
from newsletter.publishing.models import ISSUE_NUMBER_MAX
from newsletter.publishing.preview import (
    Preview,
    PreviewCache,
    PreviewFailure,
    comparison_preview,
    force_dark,
)
from newsletter.web.deps import ServicesDep

PREFIX: Final = "/preview"
"""Where the preview lives; its errors are answered in JSON with their detail (`errors`)."""

router = APIRouter(prefix=PREFIX, include_in_schema=False)

Week = Annotated[str | None, Query(max_length=10)]
Number = Annotated[int | None, Query(ge=1, le=ISSUE_NUMBER_MAX)]
Scheme = Annotated[Literal["light", "dark"], Query()]
View = Annotated[Literal["both", "desktop", "phone"], Query()]


def _cache(services: ServicesDep) -> PreviewCache:
    if services.preview is None:
        raise HTTPException(404, "the preview is not enabled")
    return services.preview


def _query(week: str | None, number: int | None, **extra: str) -> str:
    parts = {"week": week, "number": str(number) if number else None, **extra}
    return "&".join(f"{k}={v}" for k, v in parts.items() if v)


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
            "frame_query": _query(week, number, scheme=scheme),
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
    services: ServicesDep, week: Week = None, number: Number = None, scheme: Scheme = "light"
) -> HTMLResponse:
    result = _cache(services).get(week=week, number=number)
    if isinstance(result, PreviewFailure):
        return HTMLResponse(
            "<pre>" + escape("\n".join(result.problems), quote=False) + "</pre>", status_code=422
        )
    return HTMLResponse(force_dark(result.html) if scheme == "dark" else result.html)


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
def preview_comparison(services: ServicesDep, slug: str, scheme: Scheme = "light") -> HTMLResponse:
    result = comparison_preview(services.engine, services.settings, slug)
    if isinstance(result, PreviewFailure):
        body = (
            "<h1>Cannot preview</h1><pre>"
            + escape("\n".join(result.problems), quote=False)
            + "</pre>"
        )
        missing = isinstance(result.error, NotFound)  # no such slug, as against a broken file
        return HTMLResponse(body, status_code=404 if missing else 422)
    return HTMLResponse(force_dark(result.html) if scheme == "dark" else result.html)
