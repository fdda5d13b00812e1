"""The vote buttons in an email. Opening one shows the comparison and the tool it votes
for, with a button; the button (a POST to the same link) records the vote, and another
vote on the same comparison changes it."""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.responses import HTMLResponse

from newsletter.core.metrics import metrics
from newsletter.links import urls
from newsletter.sending.voting import Ballot, read_vote_link, vote_by_link
from newsletter.web.deps import PagesDep, ServicesDep, SessionDep, WriteSessionDep
from newsletter.web.pages.landing import landing

router = APIRouter(default_response_class=HTMLResponse)


def _present(pages: PagesDep, ballot: Ballot) -> HTMLResponse:
    code = status.HTTP_403_FORBIDDEN if ballot.refusal else status.HTTP_200_OK
    return pages.render("vote.html", status_code=code, ballot=ballot)


@landing(router, urls.VOTE)
def vote_page(
    services: ServicesDep, session: SessionDep, pages: PagesDep, token: str
) -> HTMLResponse:
    return _present(pages, read_vote_link(session, services.signer, token, services.settings))


@router.post(urls.VOTE)
def vote(
    services: ServicesDep, session: WriteSessionDep, pages: PagesDep, token: str
) -> HTMLResponse:
    ballot = vote_by_link(session, services.signer, token, services.settings)
    if ballot.changed:
        metrics().votes.inc()
    return _present(pages, ballot)
