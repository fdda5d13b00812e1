"""The unsubscribe link of every email, and taking it back.

Opening either link (GET or HEAD: mail scanners follow links) only shows the address's
state and the button that changes it; the POST is RFC 8058's one-click unsubscribe, which
mail clients send without cookies and which is answered with a page, never a redirect.

The token is an email's recipient token (one per recipient and issue, the form every issue
sends now) or an unsubscribe token of the form sent before; both are accepted for good, and
the page's buttons post back with the token the link came with (`links.recipient`).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from newsletter.core.metrics import count
from newsletter.links import urls
from newsletter.links.recipient import unsubscribe_token_for
from newsletter.sending import optout
from newsletter.web.deps import PagesDep, ServicesDep, SessionDep, WriteSessionDep
from newsletter.web.pages.landing import landing
from subscribers.models import SUPPRESSED

router = APIRouter(default_response_class=HTMLResponse)


def _present(pages: PagesDep, token: str, state: optout.OptOut, *, cast: bool) -> HTMLResponse:
    return pages.render(
        "unsubscribe.html",
        token=token,
        status=state.status,
        suppressed=state.status in SUPPRESSED,
        sample=state.sample,
        can_undo=state.can_undo,
        cast=cast,
    )


@landing(router, urls.UNSUBSCRIBE)
@landing(router, urls.RESUBSCRIBE)
def unsubscribe_page(
    services: ServicesDep, session: SessionDep, pages: PagesDep, token: str
) -> HTMLResponse:
    state = optout.status_by_link(
        session, services.signer, unsubscribe_token_for(services.signer, token)
    )
    return _present(pages, token, state, cast=False)


@router.post(urls.UNSUBSCRIBE)
def unsubscribe_now(
    services: ServicesDep, session: WriteSessionDep, pages: PagesDep, token: str
) -> HTMLResponse:
    state = optout.unsubscribe_by_link(
        session, services.signer, unsubscribe_token_for(services.signer, token)
    )
    if state.changed:
        count(lambda m: m.unsubscribes.inc())
    return _present(pages, token, state, cast=True)


@router.post(urls.RESUBSCRIBE)
def resubscribe_now(
    services: ServicesDep, session: WriteSessionDep, pages: PagesDep, token: str
) -> HTMLResponse:
    state = optout.resubscribe_by_link(
        session, services.signer, unsubscribe_token_for(services.signer, token)
    )
    return _present(pages, token, state, cast=True)
