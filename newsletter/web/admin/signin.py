"""Signing in and out of the desk.

The sign-in form has a CSRF token of its own (nobody is signed in yet): a random value
in a short-lived cookie, and its HMAC under the site's key in the form; a post from
another site has neither. The route holds no transaction: `accounts.signin.sign_in_apart`
reads, checks the password with nothing open, then writes the outcome in a short
transaction of its own (committed before a refusal is answered).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated, Final
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from newsletter.accounts.audit import Audited, record
from newsletter.accounts.passwords import PASSWORD_MAX
from newsletter.accounts.roles import Action
from newsletter.accounts.sessions import Signed, close_session
from newsletter.accounts.signin import LockPolicy, SignInLocked, SignInRefused, sign_in_apart
from newsletter.core.clock import utcnow
from newsletter.web.admin.auth import (
    COOKIE,
    COOKIE_PATH,
    STATE_COOKIE,
    CsrfRefused,
    actor,
    cookie_signer,
    desk_cookie,
    is_https,
    may,
)
from newsletter.web.admin.presenter import DeskPages
from newsletter.web.deps import ServicesDep, WriteSessionDep
from newsletter.web.ratelimit import client_wait, in_words

router = APIRouter(default_response_class=HTMLResponse)

SIGN_IN: Final = "/admin/sign-in"
PRE_COOKIE: Final = "desk_sign_in"
HOME: Final = "/admin"


def _form_token(services: ServicesDep, nonce: str) -> str:
    key = services.settings.secret()
    return hmac.new(key, f"sign-in:{nonce}".encode(), hashlib.sha256).hexdigest()


def safe_next(raw: str) -> str:
    """Only a path of the desk: never another site (`//evil.example`, `https://...`)."""
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or not raw.startswith(HOME) or raw.startswith("//"):
        return HOME
    return raw


def _form(
    services: ServicesDep,
    request: Request,
    *,
    error: str = "",
    email: str = "",
    next_path: str = HOME,
    status_code: int = 200,
) -> Response:
    nonce = secrets.token_urlsafe(24)
    page = DeskPages(services, request, None).render(
        "sign_in.html",
        status_code=status_code,
        error=error,
        email=email,
        next_path=safe_next(next_path),
        form_token=_form_token(services, nonce),
    )
    secure = "; Secure" if is_https(services.settings.site_url) else ""
    page.headers.append(
        "set-cookie",
        f"{PRE_COOKIE}={nonce}; Path={SIGN_IN}; HttpOnly; SameSite=Strict; Max-Age=3600{secure}",
    )
    return page


@router.get(SIGN_IN)
def sign_in_page(services: ServicesDep, request: Request, next: str = HOME) -> Response:
    return _form(services, request, next_path=next)


@router.post(SIGN_IN)
def sign_in_post(
    services: ServicesDep,
    request: Request,
    email: Annotated[str, Form(max_length=1000)] = "",
    password: Annotated[str, Form(max_length=PASSWORD_MAX * 4)] = "",
    form_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = HOME,
) -> Response:
    wait = client_wait(request, request.app.state.signin_limits)
    if wait is not None:
        error = f"Too many sign-in attempts from your address: try again {in_words(wait)}."
        page = _form(services, request, error=error, email=email, status_code=429)
        page.headers["Retry-After"] = str(wait)
        return page
    nonce = request.cookies.get(PRE_COOKIE, "")
    expected = _form_token(services, nonce).encode()
    if not nonce or not hmac.compare_digest(form_token.encode(), expected):
        raise CsrfRefused()
    settings = services.settings
    policy = LockPolicy(settings.signin_max_failures, settings.signin_lock)
    try:
        opened = sign_in_apart(services.engine, email, password, policy, utcnow())
    except SignInLocked as locked:
        return _form(services, request, error=str(locked), email=email, status_code=429)
    except SignInRefused as refused:
        return _form(services, request, error=str(refused), email=email, status_code=401)
    answer = RedirectResponse(safe_next(next), status_code=303)
    value = cookie_signer(services).sign(opened.token)
    answer.headers.append("set-cookie", desk_cookie(settings, value))
    answer.delete_cookie(PRE_COOKIE, path=SIGN_IN)
    return answer


@router.post("/admin/sign-out")
def sign_out(
    session: WriteSessionDep,
    request: Request,
    who: Annotated[Signed, Depends(may(Action.READ))],
) -> Response:
    close_session(session, who.token)
    record(session, actor(who), Audited.SIGN_OUT)
    setattr(request.state, STATE_COOKIE, "")
    answer = RedirectResponse(SIGN_IN, status_code=303)
    answer.delete_cookie(COOKIE, path=COOKIE_PATH)
    return answer
