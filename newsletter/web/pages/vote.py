"""The vote buttons in an email. Opening one shows the comparison and the tool it votes
for, with a button; the button (a POST to the same link) records the vote, and another
vote on the same comparison changes it.

Two forms of link: `/vote/<recipient token>/<comparison>/<tool>` (emails sent now: one token
per recipient, the choice in the path) and `/vote/<vote token>` (emails sent before: the
choice inside the token), both accepted for good (`links.recipient`)."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, status
from fastapi.responses import HTMLResponse

from newsletter.core.metrics import count
from newsletter.links import urls
from newsletter.links.recipient import vote_token_for
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
    return _present(pages, read_vote_link(session, services.signer, token, services.comparisons))


@router.post(urls.VOTE)
def vote(
    services: ServicesDep, session: WriteSessionDep, pages: PagesDep, token: str
) -> HTMLResponse:
    ballot = vote_by_link(session, services.signer, token, services.comparisons)
    if ballot.changed:
        count(lambda m: m.votes.inc())
    return _present(pages, ballot)


def _same_link(ballot: Ballot, token: str, comparison: str, tool: str) -> Ballot:
    """The ballot of a recipient-token link, its button posting back to that same link (the
    page builds the form's address as `urls.vote(ballot.token)`)."""
    return replace(ballot, token=f"{token}/{comparison}/{tool}")


@landing(router, urls.VOTE_CHOICE)
def vote_choice_page(
    services: ServicesDep,
    session: SessionDep,
    pages: PagesDep,
    token: str,
    comparison: str,
    tool: str,
) -> HTMLResponse:
    signer = services.signer
    vote_token = vote_token_for(signer, token, comparison, tool)
    ballot = read_vote_link(session, signer, vote_token, services.comparisons)
    return _present(pages, _same_link(ballot, token, comparison, tool))


@router.post(urls.VOTE_CHOICE)
def vote_choice(
    services: ServicesDep,
    session: WriteSessionDep,
    pages: PagesDep,
    token: str,
    comparison: str,
    tool: str,
) -> HTMLResponse:
    signer = services.signer
    vote_token = vote_token_for(signer, token, comparison, tool)
    ballot = vote_by_link(session, signer, vote_token, services.comparisons)
    if ballot.changed:
        count(lambda m: m.votes.inc())
    return _present(pages, _same_link(ballot, token, comparison, tool))
