"""The vote buttons in an email: one click records the vote, another click changes it."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from newsletter.links import urls
from newsletter.sending.voting import vote_by_link
from newsletter.web.deps import PagesDep, ServicesDep, WriteSessionDep

router = APIRouter(default_response_class=HTMLResponse)


@router.get(urls.VOTE)
def vote(
    services: ServicesDep, session: WriteSessionDep, pages: PagesDep, token: str
) -> HTMLResponse:
    cast = vote_by_link(session, services.signer, token, services.settings)
    return pages.render(
        "vote.html", comparison=cast.comparison, tool=cast.tool, changed=cast.changed
    )
