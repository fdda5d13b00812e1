"""The confirmation link of double opt-in."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from newsletter.core.clock import utcnow
from newsletter.links import urls
from newsletter.publishing.site import next_issue_day
from newsletter.sending.confirm import confirm_by_link
from newsletter.web.deps import PagesDep, ServicesDep, WriteSessionDep

router = APIRouter(default_response_class=HTMLResponse)


@router.get(urls.CONFIRM)
def confirm(
    services: ServicesDep, session: WriteSessionDep, pages: PagesDep, token: str
) -> HTMLResponse:
    if not confirm_by_link(session, services.signer, token):
        return pages.message(
            "Nothing to confirm",
            "This address is not waiting for confirmation. Nothing was changed.",
        )
    day = next_issue_day(services.settings, utcnow())
    when = f"is due on {day:%A} {day.day} {day:%B}" if day else "is on its way"
    return pages.message(
        "You're subscribed",
        f"Thanks. The next issue of {services.settings.from_name} {when}.",
        ("Read past issues", pages.urls.home()),
    )
