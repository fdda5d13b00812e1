"""The unsubscribe link of every email, and taking it back.

A GET only shows a button (mail scanners follow links); the POST is RFC 8058's one-click
unsubscribe, which mail clients send without cookies and which is answered with a page,
never a redirect.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from newsletter.links import urls
from newsletter.sending import optout
from newsletter.web.deps import PagesDep, ServicesDep, SessionDep, WriteSessionDep
from subscribers.models import SUPPRESSED, Status

router = APIRouter(default_response_class=HTMLResponse)


def _present(pages: PagesDep, token: str, status: Status) -> HTMLResponse:
    return pages.render(
        "unsubscribe.html", token=token, status=status, suppressed=status in SUPPRESSED
    )


@router.get(urls.UNSUBSCRIBE)
def unsubscribe_page(
    services: ServicesDep, session: SessionDep, pages: PagesDep, token: str
) -> HTMLResponse:
    return _present(pages, token, optout.status_by_link(session, services.signer, token))


@router.post(urls.UNSUBSCRIBE)
def unsubscribe_now(
    services: ServicesDep, session: WriteSessionDep, pages: PagesDep, token: str
) -> HTMLResponse:
    return _present(pages, token, optout.unsubscribe_by_link(session, services.signer, token))


@router.post(urls.RESUBSCRIBE)
def resubscribe_now(
    services: ServicesDep, session: WriteSessionDep, pages: PagesDep, token: str
) -> HTMLResponse:
    return _present(pages, token, optout.resubscribe_by_link(session, services.signer, token))
