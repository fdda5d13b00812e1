"""The sign-up form (double opt-in; the confirmation link is `confirm`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse

from newsletter.links import urls
from newsletter.sending.signup import send_confirmation, sign_up
from newsletter.web.deps import PagesDep, ServicesDep, WriteSessionDep
from subscribers.addresses import EMAIL_MAX, NAME_MAX, InvalidAddress

router = APIRouter(default_response_class=HTMLResponse)


@router.get(urls.SUBSCRIBE)
def subscribe_form(pages: PagesDep) -> HTMLResponse:
    return pages.render("subscribe.html", email="", name="", error=None)


@router.post(urls.SUBSCRIBE)
def subscribe(
    services: ServicesDep,
    session: WriteSessionDep,
    pages: PagesDep,
    request: Request,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=EMAIL_MAX)] = "",
    name: Annotated[str, Form(max_length=NAME_MAX)] = "",
    website: Annotated[str, Form(max_length=200)] = "",  # a honeypot people never fill
) -> HTMLResponse:
    """The same answer for a new, pending, active or suppressed address; the email goes
    out after the answer, so its timing tells nothing either."""
    if website:
        return pages.render("subscribed.html", email=email)
    ip = request.client.host if request.client else None
    try:
        confirmation = sign_up(session, email, name.strip() or None, ip)
    except InvalidAddress as exc:  # the form again, with the reason next to the field
        return pages.render(
            "subscribe.html", status_code=422, email=email, name=name, error=str(exc)
        )
    if confirmation is not None:
        background.add_task(send_confirmation, confirmation, services.settings, services.backend)
    return pages.render("subscribed.html", email=email)
