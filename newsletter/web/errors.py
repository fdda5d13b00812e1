"""One error mapping for the whole app: a `NewsletterError` raised anywhere under a route
becomes one answer, chosen by its kind, never by its message.

Under /api/ (the admin API), /webhooks/ (providers' event webhooks) and /preview (the
editor's local preview, when it is on) the answer is JSON `{"detail": message}`; under a
section that registered message pages of its own (`section_pages`: the desk, /admin) it is
that section's message page, in its frame; elsewhere it is the site's message page, for a
reader. A refused webhook request is the exception:
its detail is the same whatever the cause (`WITHHELD`), and the cause goes to the log.

The same split holds for what the framework raises before a route runs: an unknown
address, or a path parameter that cannot be what the route expects (`/issues/abc`), is a
404 page in the site's look for a reader, and FastAPI's own JSON, naming the parameter and
the reason, for the admin API and the preview.

Every JSON error answer is `EscapedJSON`: what a request sent and an error repeats (an
address, a week, a slug, the input FastAPI echoes) never comes back as markup, whatever
reads the answer. Anything else a route lets escape is the site's 500 page (JSON under
/api/ and /preview), with the security headers: Starlette sends that answer outside every
middleware, so `unexpected` adds them.

The status comes from the first class in the error's MRO found in, in order, the route's
own table (`answers`), `STATUS` (a few classes with a code of their own, such as
an expired link's 410) and `KIND_STATUS`; any other `NewsletterError` is a 400.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final, Protocol, TypeVar

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.utils import is_body_allowed_for_status_code
from starlette.exceptions import HTTPException

from newsletter.core.errors import Conflict, InvalidInput, NewsletterError, NotFound, Refused
from newsletter.delivery.events import (
    WebhookMalformed,
    WebhookNotConfigured,
    WebhookRefused,
    WebhookTooLarge,
)
from newsletter.links.tokens import ExpiredToken, TokenError
from newsletter.publishing.site import NoSuchComparison, NoSuchIssue
from newsletter.sending.confirm import CONFIRM_VALID_DAYS
from newsletter.sending.optout import AddressGone
from newsletter.web import preview as preview_routes
from newsletter.web import webhooks
from newsletter.web.deps import get_services
from newsletter.web.presenter import SITE_RELATIVE, Pages
from newsletter.web.security import add_missing, site_headers

ErrorStatuses = Mapping[type[NewsletterError], int]

KIND_STATUS: Final[ErrorStatuses] = {
    NotFound: status.HTTP_404_NOT_FOUND,
    Conflict: status.HTTP_409_CONFLICT,
    InvalidInput: status.HTTP_422_UNPROCESSABLE_CONTENT,
    Refused: status.HTTP_403_FORBIDDEN,
}
OTHER_STATUS: Final = status.HTTP_400_BAD_REQUEST

STATUS: Final[ErrorStatuses] = {
    # A link that is not a genuine one of its purpose is a bad request, whatever the route;
    # a genuine one past its age is gone (the page says how to get a fresh one).
    ExpiredToken: status.HTTP_410_GONE,
    TokenError: status.HTTP_400_BAD_REQUEST,
    # A provider's webhook: off without a key, a body too large, or not the provider's shape
    # (its refusals are `Refused`: 403).
    WebhookNotConfigured: status.HTTP_503_SERVICE_UNAVAILABLE,
    WebhookTooLarge: status.HTTP_413_CONTENT_TOO_LARGE,
    WebhookMalformed: status.HTTP_400_BAD_REQUEST,
}

WITHHELD: Final[Mapping[type[NewsletterError], str]] = {
    WebhookRefused: "the request is not signed by the provider",
}
"""Errors whose message is logged (warning) but not answered: the answer is this text,
the same for every cause, so a forger learns nothing of which check failed."""

log = logging.getLogger(__name__)

_ROUTE_STATUSES: dict[Callable[..., object], ErrorStatuses] = {}

Endpoint = TypeVar("Endpoint", bound=Callable[..., object])


def answers(statuses: ErrorStatuses) -> Callable[[Endpoint], Endpoint]:
    """Give one route codes of its own for some error classes, where its published contract
    differs from the kinds (the admin API answers 422 to a duplicate address, not 409).
    Put it under the route decorator."""

    def mark(endpoint: Endpoint) -> Endpoint:
        _ROUTE_STATUSES[endpoint] = dict(statuses)
        return endpoint

    return mark


def status_for(error: NewsletterError, route: ErrorStatuses | None = None) -> int:
    """The HTTP status of `error`: the route's table first, then `STATUS`, then the kinds;
    within a table, the most specific class in the error's MRO."""
    for table in (route or {}, STATUS, KIND_STATUS):
        for cls in type(error).__mro__:
            if issubclass(cls, NewsletterError) and cls in table:
                return table[cls]
    return OTHER_STATUS


# What the message page says, by error class (most specific first through the MRO): a
# title, a body (None: the error's own message), and one button.
_EXPIRED = (
    f"Confirmation links work for {CONFIRM_VALID_DAYS} days. "
    "Sign up again and we will send a fresh one."
)
_INVALID = "It may have been cut short by your mail program. Nothing was changed."
_PAST_ISSUES = ("Past issues", SITE_RELATIVE.home())
_GONE = "We no longer hold this address, so there is nothing to change."
PAGES: Final[Mapping[type[NewsletterError], tuple[str, str | None, tuple[str, str] | None]]] = {
    ExpiredToken: ("This link has expired", _EXPIRED, ("Sign up again", SITE_RELATIVE.subscribe())),
    TokenError: ("This link is not valid", _INVALID, None),
    AddressGone: ("This address is gone", _GONE, ("Subscribe again", SITE_RELATIVE.subscribe())),
    NoSuchComparison: ("No such comparison", "It may have been renamed.", _PAST_ISSUES),
    NoSuchIssue: ("No such issue", "It may not be published yet.", _PAST_ISSUES),
    NotFound: ("Not found", None, _PAST_ISSUES),
    Conflict: ("That cannot be done now", None, None),
    InvalidInput: ("That does not look right", None, None),
    Refused: ("That is not allowed", None, None),
    NewsletterError: ("Something is wrong with the request", None, None),
}


def _withheld(error: NewsletterError) -> str | None:
    for cls in type(error).__mro__:
        if cls in WITHHELD:
            return WITHHELD[cls]
    return None


def _page_text(error: NewsletterError) -> tuple[str, str, tuple[str, str] | None]:
    for cls in type(error).__mro__:
        if issubclass(cls, NewsletterError) and cls in PAGES:
            title, body, action = PAGES[cls]
            return title, body if body is not None else str(error), action
    raise AssertionError("NewsletterError is in PAGES")  # pragma: no cover


API_PREFIX: Final = "/api"

_HTML_SIGNIFICANT: Final = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}
_ESCAPED: Final = _HTML_SIGNIFICANT | {c: f"\\u{c:04x}" for c in range(0xD800, 0xE000)}
"""The three above, and every surrogate code point (see `EscapedJSON`)."""


class EscapedJSON(JSONResponse):
    """JSON with `<`, `>` and `&` written as `\\u` escapes, as Go's encoder writes them:
    every JSON parser reads the same strings, and nothing that takes the answer for HTML
    (an old browser sniffing, a log viewer) finds markup in it. Those three characters
    only ever stand inside JSON strings, so replacing them keeps the document valid. So do
    lone surrogates, which a JSON body can carry in (`"\\ud800"`) and a 422 echoes back:
    UTF-8 has no bytes for them, so they go back as the escapes they came in as."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(
            content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
        )
        return text.translate(_ESCAPED).encode()


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def answers_json(request: Request) -> bool:
    """Whether `request` gets FastAPI's JSON answers rather than the site's pages: the admin
    API (its published contract) and the editor's preview, whose detail says which
    parameter was wrong (`scheme`, `number`) or why the issue cannot be shown. On the public
    server, where the preview is off, /preview is a reader's missing page like any other."""
    path = request.url.path
    if _under(path, API_PREFIX) or _under(path, webhooks.PREFIX):
        return True
    return _under(path, preview_routes.PREFIX) and get_services(request).preview is not None


class SectionMessage(Protocol):
    """A section's message page: (request, title, body, status) to an answer."""

    def __call__(self, request: Request, title: str, body: str, code: int) -> Response: ...


@dataclass(frozen=True)
class SectionPages:
    """Error pages of a section with a frame of its own (the desk): `message` renders
    them, `missing` is its text for an address that leads nowhere. Registered by the
    section (`section_pages`), so this module imports none of it (the section's routes may
    import `answers` from here)."""

    prefix: str
    message: SectionMessage
    missing: str


SECTIONS: Final = "error_sections"
"""Where the app keeps its registered `SectionPages` (`app.state`)."""


def section_pages(app: FastAPI, pages: SectionPages) -> None:
    """Errors under `pages.prefix` are shown by `pages.message` rather than the site's."""
    getattr(app.state, SECTIONS).append(pages)


def _section(request: Request) -> SectionPages | None:
    found: list[SectionPages] = getattr(request.app.state, SECTIONS, [])
    return next((s for s in found if _under(request.url.path, s.prefix)), None)


async def newsletter_error(request: Request, error: Exception) -> Response:
    """The one exception handler: every `NewsletterError` a route lets through."""
    assert isinstance(error, NewsletterError)
    endpoint = request.scope.get("endpoint")
    code = status_for(error, _ROUTE_STATUSES.get(endpoint) if endpoint else None)
    detail = _withheld(error)
    if detail is not None:
        log.warning("%s %s refused: %s", request.method, request.url.path, error)
    if answers_json(request):
        return EscapedJSON({"detail": str(error) if detail is None else detail}, status_code=code)
    title, body, action = _page_text(error)
    return _message(request, title, body if detail is None else detail, action, code)


def _message(
    request: Request,
    title: str,
    body: str,
    action: tuple[str, str] | None,
    code: int,
    headers: Mapping[str, str] | None = None,
) -> Response:
    section = _section(request)
    if section is not None:
        page = section.message(request, title, body, code)
    else:
        services = get_services(request)
        page = Pages(services.templates, services.settings, request).message(
            title, body, action, status_code=code
        )
    page.headers.update(headers or {})
    return page


# What the site says when the framework answers before a route runs.
MISSING: Final = (
    "Page not found",
    "Nothing lives at this address. The link may be out of date, or cut short by a mail "
    "program; the past issues are all on the home page.",
    _PAST_ISSUES,
)
NOT_UNDERSTOOD: Final = (
    "That does not look right",
    "The form or link was not understood. Nothing was changed.",
    None,
)


def _missing(request: Request) -> tuple[str, str, tuple[str, str] | None]:
    section = _section(request)
    return MISSING if section is None else (MISSING[0], section.missing, None)


async def http_error(request: Request, error: Exception) -> Response:
    """A status the framework (or a route) raised as an HTTPException: an unknown address,
    a method the page does not take. A page for readers, JSON for the admin API and the
    preview."""
    assert isinstance(error, HTTPException)
    if answers_json(request):
        if not is_body_allowed_for_status_code(error.status_code):
            return Response(status_code=error.status_code, headers=error.headers)
        return EscapedJSON(
            {"detail": error.detail}, status_code=error.status_code, headers=error.headers
        )
    if error.status_code == status.HTTP_404_NOT_FOUND:
        title, body, action = _missing(request)
    else:
        phrase = HTTPStatus(error.status_code).phrase
        title, action = ("That cannot be done here", None)
        body = error.detail if error.detail and error.detail != phrase else phrase
    return _message(request, title, str(body), action, error.status_code, error.headers)


async def invalid_request(request: Request, error: Exception) -> Response:
    """A request FastAPI could not match to the route's parameters. A path parameter of the
    wrong shape means no such page (`/issues/abc` is as missing as `/issues/999`); a bad
    form or query is a 422 page. The admin API and the preview keep FastAPI's JSON list of
    errors, each naming its parameter."""
    assert isinstance(error, RequestValidationError)
    if answers_json(request):
        return EscapedJSON(
            {"detail": jsonable_encoder(error.errors())},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    in_path = any(e.get("loc", ())[:1] == ("path",) for e in error.errors())
    title, body, action = _missing(request) if in_path else NOT_UNDERSTOOD
    code = status.HTTP_404_NOT_FOUND if in_path else status.HTTP_422_UNPROCESSABLE_CONTENT
    return _message(request, title, body, action, code)


BROKEN: Final = (
    "Something went wrong",
    "The fault is ours, not yours, and it has been logged. Please try again in a while.",
    _PAST_ISSUES,
)


async def unexpected(request: Request, error: Exception) -> Response:
    """Anything else a route let through: a 500 that says nothing of the fault (uvicorn
    logs the traceback), with the headers every answer carries (see `security`)."""
    code = status.HTTP_500_INTERNAL_SERVER_ERROR
    services = get_services(request)
    if answers_json(request):
        answer: Response = EscapedJSON({"detail": "Internal Server Error"}, status_code=code)
    else:
        answer = _message(request, *BROKEN, code)
    add_missing(
        answer.headers, site_headers(services.settings, preview=services.preview is not None)
    )
    return answer


def install(app: FastAPI) -> None:
    setattr(app.state, SECTIONS, [])
    app.add_exception_handler(Exception, unexpected)
    app.add_exception_handler(NewsletterError, newsletter_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
