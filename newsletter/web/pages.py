"""Public pages: sign up, confirm, vote, unsubscribe, read past issues. No JavaScript needed.

Tokens are the only authority: every route that changes something verifies one first and
changes nothing when it is forged, expired or of another purpose.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import select

from newsletter.links.tokens import ExpiredToken, Purpose, TokenError
from newsletter.publishing import site
from newsletter.publishing.models import Comparison, Tool
from newsletter.publishing.render import comparison_views
from newsletter.publishing.votes import VoteError, count_votes, record_vote
from newsletter.sending.signup import CONFIRM_MAX_AGE, send_confirmation, sign_up
from newsletter.web.deps import ServicesDep, SessionDep
from subscribers.addresses import InvalidAddress
from subscribers.models import SUPPRESSED, Source, Status
from subscribers.service import (
    confirm_subscription,
    get_subscriber,
    resubscribe,
    unsubscribe,
)

router = APIRouter(default_response_class=HTMLResponse)


def page(
    services: ServicesDep, request: Request, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return services.templates.TemplateResponse(
        request,
        template,
        {
            "site_url": services.settings.site_url,
            "from_name": services.settings.from_name,
            "postal_address": services.settings.postal_address,
            **context,
        },
        status_code=status_code,
    )


def invalid_link(services: ServicesDep, request: Request, error: TokenError) -> HTMLResponse:
    expired = isinstance(error, ExpiredToken)
    return page(
        services,
        request,
        "message.html",
        status_code=410 if expired else 400,
        title="This link has expired" if expired else "This link is not valid",
        body=(
            "Confirmation links work for a week. Sign up again and we will send a fresh one."
            if expired
            else "It may have been cut short by your mail program. Nothing was changed."
        ),
        action=("Sign up again", "/subscribe") if expired else None,
    )


@router.get("/")
def home(services: ServicesDep, session: SessionDep, request: Request) -> HTMLResponse:
    issues = site.published_issues(session, services.settings)
    return page(services, request, "index.html", issues=issues)


@router.get("/subscribe")
def subscribe_form(services: ServicesDep, request: Request) -> HTMLResponse:
    return page(services, request, "subscribe.html", email="", name="", error=None)


@router.post("/subscribe")
def subscribe(
    services: ServicesDep,
    request: Request,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=320)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    website: Annotated[str, Form(max_length=200)] = "",  # a honeypot people never fill
) -> HTMLResponse:
    if website:
        return page(services, request, "subscribed.html", email=email)
    try:
        confirmation = sign_up(
            services.engine,
            email,
            name.strip() or None,
            request.client.host if request.client else None,
        )
    except InvalidAddress as exc:
        return page(
            services,
            request,
            "subscribe.html",
            status_code=422,
            email=email,
            name=name,
            error=str(exc),
        )
    if confirmation is not None:  # after the answer: its timing must not tell anything
        background.add_task(send_confirmation, confirmation, services.settings, services.backend)
    # The same answer for a new, pending, active or suppressed address.
    return page(services, request, "subscribed.html", email=email)


@router.get("/confirm/{token}")
def confirm(
    services: ServicesDep, session: SessionDep, request: Request, token: str
) -> HTMLResponse:
    try:
        subscriber_id, _issued = services.signer.verify(
            Purpose.CONFIRM, token, max_age=CONFIRM_MAX_AGE
        )
    except TokenError as exc:
        return invalid_link(services, request, exc)
    subscriber = confirm_subscription(session, subscriber_id)
    if subscriber is None:
        return invalid_link(services, request, TokenError("invalid token"))
    if subscriber.status != Status.ACTIVE:
        return page(
            services,
            request,
            "message.html",
            title="Nothing to confirm",
            body="This address is not waiting for confirmation. Nothing was changed.",
            action=None,
        )
    return page(
        services,
        request,
        "message.html",
        title="You're subscribed",
        body=f"Thanks. The next issue of {services.settings.from_name} will reach you on Monday.",
        action=("Read past issues", "/"),
    )


def _unsubscribe_page(
    services: ServicesDep, request: Request, token: str, status: str
) -> HTMLResponse:
    return page(
        services,
        request,
        "unsubscribe.html",
        token=token,
        status=status,
        suppressed=status in SUPPRESSED,
    )


@router.get("/unsubscribe/{token}")
def unsubscribe_page(
    services: ServicesDep, session: SessionDep, request: Request, token: str
) -> HTMLResponse:
    """Shows a button; a GET alone never unsubscribes (mail scanners follow links)."""
    try:
        subscriber_id, _issue_id = services.signer.verify(Purpose.UNSUBSCRIBE, token)
    except TokenError as exc:
        return invalid_link(services, request, exc)
    subscriber = get_subscriber(session, subscriber_id)
    if subscriber is None:
        return _gone(services, request)
    return _unsubscribe_page(services, request, token, subscriber.status)


@router.post("/unsubscribe/{token}")
def unsubscribe_now(services: ServicesDep, request: Request, token: str) -> HTMLResponse:
    """RFC 8058 one-click: the mail client POSTs `List-Unsubscribe=One-Click`, no cookies.
    Answers 200 with a page, never a redirect."""
    try:
        subscriber_id, issue_id = services.signer.verify(Purpose.UNSUBSCRIBE, token)
    except TokenError as exc:
        return invalid_link(services, request, exc)
    reason = f"one-click unsubscribe from issue id {issue_id}" if issue_id else "unsubscribe link"
    with services.write() as session:
        subscriber = unsubscribe(session, subscriber_id, reason=reason, source=Source.FORM)
    if subscriber is None:
        return _gone(services, request)
    return _unsubscribe_page(services, request, token, subscriber.status)


@router.post("/resubscribe/{token}")
def resubscribe_now(services: ServicesDep, request: Request, token: str) -> HTMLResponse:
    try:
        subscriber_id, _issue_id = services.signer.verify(Purpose.UNSUBSCRIBE, token)
    except TokenError as exc:
        return invalid_link(services, request, exc)
    with services.write() as session:
        subscriber = resubscribe(session, subscriber_id, source=Source.FORM)
    if subscriber is None:
        return _gone(services, request)
    return _unsubscribe_page(services, request, token, subscriber.status)


def _gone(services: ServicesDep, request: Request) -> HTMLResponse:
    return page(
        services,
        request,
        "message.html",
        status_code=404,
        title="This address is gone",
        body="We no longer hold this address, so there is nothing to change.",
        action=("Subscribe again", "/subscribe"),
    )


@router.get("/vote/{token}")
def vote(services: ServicesDep, request: Request, token: str) -> HTMLResponse:
    """One click from the email records the vote (a second click changes it)."""
    try:
        subscriber_id, issue_id, comparison_id, tool_id = services.signer.verify(
            Purpose.VOTE, token
        )
    except TokenError as exc:
        return invalid_link(services, request, exc)
    with services.write() as session:
        if get_subscriber(session, subscriber_id) is None:
            return _gone(services, request)
        try:
            result = record_vote(session, subscriber_id, issue_id, comparison_id, tool_id)
        except VoteError as exc:
            return invalid_link(services, request, TokenError(str(exc)))
        session.flush()
        comparison = session.get(Comparison, comparison_id)
        tool = session.get(Tool, tool_id)
        if comparison is None or tool is None:  # pragma: no cover - record_vote checked both
            return invalid_link(services, request, TokenError("invalid token"))
        view = comparison_views(
            session, [comparison], services.settings, count_votes, with_vote_links=False
        )[0]
    return page(services, request, "vote.html", comparison=view, tool=tool, changed=result.changed)


@router.get("/issues/{number}")
def issue_page(services: ServicesDep, session: SessionDep, number: int) -> HTMLResponse:
    issue = site.published_issue(session, number)
    if issue is None:
        return HTMLResponse("<h1>No such issue</h1>", status_code=404)
    return HTMLResponse(site.web_version(issue, services.settings))


@router.get("/comparisons/{slug}")
def comparison_page(
    services: ServicesDep, session: SessionDep, request: Request, slug: str
) -> HTMLResponse:
    view = site.comparison_page(session, slug, services.settings)
    if view is None:
        return page(
            services,
            request,
            "message.html",
            status_code=404,
            title="No such comparison",
            body="It may have been renamed.",
            action=("Past issues", "/"),
        )
    return page(services, request, "comparison.html", comparison=view)


@router.get("/feed.xml")
def feed(services: ServicesDep, session: SessionDep, request: Request) -> Response:
    issues = site.published_issues(session, services.settings, limit=20)
    body = services.templates.get_template("feed.xml").render(
        issues=issues,
        site_url=services.settings.site_url,
        title=services.settings.from_name,
        updated=issues[0].published_at if issues else None,
    )
    return Response(body, media_type="application/atom+xml")


@router.get("/healthz", include_in_schema=False)
def health(session: SessionDep) -> Response:
    session.exec(select(1)).one()
    return Response("ok", media_type="text/plain")
