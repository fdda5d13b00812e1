"""The operators' and editors' desk under /admin: server-rendered pages (templates under
templates/web/admin/) that work without JavaScript, calling the same service functions as
the CLI and the JSON API. Who may do what: `auth`; the page frame: `presenter`."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from newsletter.core.settings import Settings
from newsletter.web import errors
from newsletter.web.admin import (
    accounts,
    audit_log,
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
from newsletter.web.admin.auth import (
    COOKIE_PATH,
    CsrfRefused,
    DeskCookie,
    NeedsSignIn,
    NotAllowed,
    who_asked,
)
from newsletter.web.admin.body_limit import DeskBodyLimit
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
    accounts,
    audit_log,
):
    router.include_router(module.router)


async def _needs_sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NeedsSignIn)
    return RedirectResponse(f"{signin.SIGN_IN}?next={quote(exc.back_to)}", status_code=303)


def _message(request: Request, title: str, body: str, code: int) -> Response:
    """A desk message page, with the navigation when someone is signed in."""
    pages = DeskPages(get_services(request), request, who_asked(request))
    return pages.message(title, body, status_code=code)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotAllowed)
    body = (
        f"Your role ({exc.role.value}) does not allow this. Nothing was changed; "
        "an admin can change your role."
    )
    return _message(request, "Not allowed", body, 403)


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    body = (
        "The form was out of date or did not come from this desk, so nothing was changed. "
        "Go back, reload the page and try again."
    )
    return _message(request, "Form expired", body, 403)


MISSING = "Nothing on the desk lives at this address; the dashboard leads to every page."


def install(app: FastAPI, settings: Settings, templates: Jinja2Templates) -> None:
    templates.env.filters.update(FILTERS)
    app.add_exception_handler(NeedsSignIn, _needs_sign_in)
    app.add_exception_handler(NotAllowed, _not_allowed)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
    errors.section_pages(app, errors.SectionPages(COOKIE_PATH, _message, MISSING))
    app.add_middleware(DeskCookie, settings=settings)
    app.add_middleware(DeskBodyLimit)
    app.include_router(router)
