"""Who is signed in and what they may do, as dependencies of the desk's routes.

Every desk route names the action it performs: `Annotated[Signed, Depends(may(Action.X))]`.
`may` finds the session from the cookie (none: a redirect to the sign-in page), checks the
role against `accounts.roles.REQUIRED` (not enough: 403, nothing done), and for anything
but a GET or HEAD checks the form's CSRF token against the session's (missing or wrong:
403, nothing done). The table-driven test of the roles walks the app's routes and reads
each route's `may` to know what it should refuse.

The cookie is re-signed on every page (`DeskCookie` writes it on the way out), which is
what makes the 12-hour limit an idle limit; see `accounts.sessions`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsletter.accounts.audit import Actor
from newsletter.accounts.roles import Action, Role, allows
from newsletter.accounts.sessions import CookieSigner, Signed, signed_in
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.web.deps import ServicesDep

COOKIE: Final = "desk_session"
COOKIE_PATH: Final = "/admin"
CSRF_FIELD: Final = "csrf"
STATE_COOKIE: Final = "desk_cookie"
"""Where a request's refreshed cookie waits for `DeskCookie` (in `request.state`)."""
STATE_WHO: Final = "desk_who"
"""Where the request's signed-in account waits for the error pages (`request.state`), so
a page that fails still shows the desk's navigation to the person who asked."""


class NeedsSignIn(Exception):
    """No valid session: the handler answers with a redirect to the sign-in page."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


class NotAllowed(Exception):
    """The role does not allow the action: a 403 page saying so."""

    def __init__(self, role: Role, action: Action) -> None:
        super().__init__(f"{role.value} may not {action.value}")
        self.role = role
        self.action = action


class CsrfRefused(Exception):
    """A POST without the session's token: a 403 page, nothing done."""


def cookie_signer(services: ServicesDep) -> CookieSigner:
    return CookieSigner(services.settings.secret(), services.settings.admin_idle_timeout)


def cookie_header(value: str, *, secure: bool, max_age: int) -> str:
    flags = f"Path={COOKIE_PATH}; HttpOnly; SameSite=Lax; Max-Age={max_age}"
    return f"{COOKIE}={value}; {flags}{'; Secure' if secure else ''}"


def is_https(site_url: str) -> bool:
    return site_url.startswith("https://")


def desk_cookie(settings: Settings, value: str) -> str:
    """The session cookie's header: Secure when the site is served over https."""
    max_age = int(settings.admin_idle_timeout.total_seconds())
    return cookie_header(value, secure=is_https(settings.site_url), max_age=max_age)


def signed(request: Request, services: ServicesDep) -> Signed:
    """The signed-in account, or NeedsSignIn. Reads only: nothing is written per page."""
    signer = cookie_signer(services)
    cookie = request.cookies.get(COOKIE, "")
    token = signer.token(cookie) if cookie else None
    found = None
    if token is not None:
        with session_scope(services.engine) as db:
            found = signed_in(db, token)
    if found is None:
        query = f"?{request.url.query}" if request.url.query else ""
        raise NeedsSignIn(request.url.path + query if request.method == "GET" else "/admin")
    setattr(request.state, STATE_COOKIE, signer.sign(found.token))
    setattr(request.state, STATE_WHO, found)
    return found


def who_asked(request: Request) -> Signed | None:
    """The account `signed` found for this request, if it ran and found one."""
    found = getattr(request.state, STATE_WHO, None)
    return found if isinstance(found, Signed) else None


SignedDep = Annotated[Signed, Depends(signed)]


@dataclass(frozen=True)
class may:
    """A dependency: the signed-in account, if its role allows `action` (and, for a
    state-changing request, if the form carries the session's CSRF token)."""

    action: Action

    async def __call__(self, request: Request, who: SignedDep) -> Signed:
        role = Role(who.account.role)
        if not allows(role, self.action):
            raise NotAllowed(role, self.action)
        if request.method not in ("GET", "HEAD"):
            form = await request.form()
            given = form.get(CSRF_FIELD)
            if not isinstance(given, str) or not hmac.compare_digest(
                given.encode(), who.csrf_token.encode()
            ):
                raise CsrfRefused()
        return who


Reader = Annotated[Signed, Depends(may(Action.READ))]
"""The common case: any signed-in account may read the page."""


class DeskCookie:
    """Writes the refreshed session cookie a desk route left in `request.state`."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(COOKIE_PATH):
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                value = scope.get("state", {}).get(STATE_COOKIE)
                if value:
                    header = desk_cookie(self.settings, value)
                    MutableHeaders(scope=message).append("set-cookie", header)
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def actor(who: Signed) -> Actor:
    """The audit log's name for what a signed-in account does."""
    return Actor(who.account.id, who.account.email)
