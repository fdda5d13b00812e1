"""The sign-up form (double opt-in; the confirmation link is `confirm`).

A post is rate-limited first (`newsletter.web.ratelimit`), then its address is checked and
one row is queued (`newsletter.sending.signup_queue`); the app's dispatcher thread does the
rest after the answer, outside the request workers. The answer is the same page after the
same single INSERT for every address, known, new or suppressed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request, status
from fastapi.responses import HTMLResponse

from newsletter.core.metrics import count
from newsletter.links import urls
from newsletter.sending.signup_dispatcher import SignupDispatcher
from newsletter.sending.signup_queue import SignupQueueFull, queue_signup
from newsletter.web.deps import PagesDep, ServicesDep, WriteSessionDep
from newsletter.web.ratelimit import SignupLimit, TooManySignups
from subscribers.addresses import EMAIL_MAX, NAME_MAX, InvalidAddress

router = APIRouter(default_response_class=HTMLResponse)

QUEUE_FULL_RETRY_AFTER = 120  # seconds: a full queue drains in minutes, not hours


def dispatcher_of(request: Request) -> SignupDispatcher:
    found: SignupDispatcher = request.app.state.signup_dispatcher
    return found


@router.get(urls.SUBSCRIBE)
def subscribe_form(pages: PagesDep) -> HTMLResponse:
    return pages.render("subscribe.html", email="", name="", error=None)


@router.post(urls.SUBSCRIBE, dependencies=[SignupLimit])
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
    """422 with the reason for text that is not an address; otherwise the same answer for
    every address, after the same work (one queued row)."""
    if website:
        return pages.render("subscribed.html", email=email)
    try:
        queue_signup(
            session,
            email,
            name=name,
            ip=request.client.host if request.client else None,
            max_queued=services.settings.signup_queue_max,
        )
    except InvalidAddress as exc:  # the form again, with the reason next to the field
        return pages.render(
            "subscribe.html", status_code=422, email=email, name=name, error=str(exc)
        )
    except SignupQueueFull:
        raise TooManySignups(QUEUE_FULL_RETRY_AFTER, status.HTTP_503_SERVICE_UNAVAILABLE) from None
    background.add_task(dispatcher_of(request).wake)  # runs once the row is committed
    count(lambda m: m.signups.inc())
    return pages.render("subscribed.html", email=email)
