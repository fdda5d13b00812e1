"""The confirmation link of double opt-in.

Opening the link (a GET or HEAD: a person, or a mail scanner) changes nothing: it shows a
button, and the button's POST to the same address confirms. The POST writes through the
write session (SQLite's lock taken at BEGIN, waiting its turn behind a send).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from newsletter.core.clock import utcnow
from newsletter.links import urls
from newsletter.publishing.site import next_issue_day
from newsletter.sending.confirm import confirm_by_link, confirm_link_status
from newsletter.web.deps import PagesDep, ServicesDep, SessionDep, WriteSessionDep
from newsletter.web.pages.landing import landing
from subscribers.addresses import NAME_MAX
from subscribers.models import Status

router = APIRouter(default_response_class=HTMLResponse)


def _welcome(services: ServicesDep, pages: PagesDep) -> HTMLResponse:
    day = next_issue_day(services.settings, utcnow())
    when = f"is due on {day:%A} {day.day} {day:%B}" if day else "is on its way"
    return pages.message(
        "You're subscribed",
        f"Thanks. The next issue of {services.settings.from_name} {when}.",
        ("Read past issues", pages.urls.home()),
    )


@landing(router, urls.CONFIRM)
def confirm_page(
    services: ServicesDep, session: SessionDep, pages: PagesDep, token: str
) -> HTMLResponse:
    link = confirm_link_status(session, services.signer, token)
    if link.status == Status.ACTIVE:
        return _welcome(services, pages)
    return pages.render("confirm.html", token=token, name=link.name or "")


@router.post(urls.CONFIRM)
def confirm(
    services: ServicesDep,
    session: WriteSessionDep,
    pages: PagesDep,
    request: Request,
    token: str,
    name: Annotated[str, Form(max_length=NAME_MAX * 4)] = "",
    named: Annotated[str, Form(max_length=1)] = "",
) -> HTMLResponse:
    """`named` says the page's name field was posted (an emptied field clears the name; a
    bare POST, a mail client's or a script's, keeps it)."""
    ip = request.client.host if request.client else None
    if not confirm_by_link(session, services.signer, token, name=name, rename=bool(named), ip=ip):
        return pages.message(
            "Nothing to confirm",
            "This address is not waiting for confirmation. Nothing was changed.",
        )
    return _welcome(services, pages)
