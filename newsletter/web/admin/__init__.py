"""The operators' and editors' desk under /admin: server-rendered pages (templates under
templates/web/admin/) that work without JavaScript, calling the same service functions as
the CLI and the JSON API. Who may do what: `auth`; the page frame: `presenter`."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from newsletter.core.settings import Settings
from newsletter.web.admin import (
    dashboard,
    imports,
    issue_actions,
    issues,
    reports,
    signin,
    subscriber_page,
    subscribers,
    suppressions,
)
from newsletter.web.admin.auth import CsrfRefused, DeskCookie, NeedsSignIn, NotAllowed
from newsletter.web.admin.presenter import FILTERS, DeskPages
from newsletter.web.deps import get_services

router = APIRouter(default_response_class=HTMLResponse)
for module in (
    signin,
    dashboard,
    issues,
    issue_actions,
    reports,
    imports,
    subscribers,
    subscriber_page,
    suppressions,
):
    router.include_router(module.router)


async def _needs_sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NeedsSignIn)
    return RedirectResponse(f"{signin.SIGN_IN}?next={quote(exc.back_to)}", status_code=303)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotAllowed)
    pages = DeskPages(get_services(request), request, None)
    body = (
        f"Your role ({exc.role.value}) does not allow this. Nothing was changed; "
        "an admin can change your role."
    )
    return pages.message("Not allowed", body, status_code=403)


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    pages = DeskPages(get_services(request), request, None)
    body = (
        "The form was out of date or did not come from this desk, so nothing was changed. "
        "Go back, reload the page and try again."
    )
    return pages.message("Form expired", body, status_code=403)


def install(app: FastAPI, settings: Settings, templates: Jinja2Templates) -> None:
    templates.env.filters.update(FILTERS)
    app.add_exception_handler(NeedsSignIn, _needs_sign_in)
    app.add_exception_handler(NotAllowed, _not_allowed)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
    app.add_middleware(DeskCookie, settings=settings)
    app.include_router(router)
