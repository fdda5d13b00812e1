"""Signing in to the desk from a test: accounts of each role, and httpx clients that hold
their session (over plain http: the cookie is marked Secure for the https site the app
was built for, so the client keeps it by hand, as a browser on that site would)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import httpx
from sqlalchemy import Engine

from newsletter.accounts.audit import COMMAND_LINE
from newsletter.accounts.models import Account
from newsletter.accounts.passwords import hash_password
from newsletter.accounts.roles import Role
from newsletter.accounts.sessions import CookieSigner, open_session
from newsletter.accounts.team import add_account, find_account
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.web.admin.auth import COOKIE
from newsletter.web.admin.signin import PRE_COOKIE

PASSWORD = "a long test password"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def email_of(role: Role) -> str:
    return f"{role.value}@team.example"


@cache
def password_hash() -> str:
    """PASSWORD's Argon2 hash, made once per test run: hashing with the real parameters
    takes ~0.3 s, and every desk test starts with three accounts."""
    return hash_password(PASSWORD)


def add_accounts(engine: Engine) -> None:
    """One account per role, stored as `add_account` stores them (its own tests hash)."""
    with session_scope(engine) as session:
        for role in Role:
            session.add(Account(email=email_of(role), role=role, password_hash=password_hash()))


def cookie_value(response: httpx.Response, name: str) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        key, _, rest = header.partition("=")
        if key == name:
            return rest.split(";", 1)[0]
    return None


def keep(client: httpx.Client, name: str, value: str) -> None:
    """One cookie of that name in the client's jar, whatever its flags."""
    client.cookies.delete(name)
    client.cookies.set(name, value)


def sign_in_response(
    client: httpx.Client, email: str, password: str, next_path: str = "/admin"
) -> httpx.Response:
    form = client.get("/admin/sign-in")
    token = FORM_TOKEN.search(form.text)
    nonce = cookie_value(form, PRE_COOKIE)
    assert token, form.text
    assert nonce, form.headers
    keep(client, PRE_COOKIE, nonce)
    answer = client.post(
        "/admin/sign-in",
        data={"email": email, "password": password, "form_token": token[1], "next": next_path},
    )
    session = cookie_value(answer, COOKIE)
    if session:
        keep(client, COOKIE, session)
    return answer


@contextmanager
def signed_in(base_url: str, role: Role) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, trust_env=False, timeout=10) as client:
        answer = sign_in_response(client, email_of(role), PASSWORD)
        assert answer.status_code == 303, answer.text
        yield client


def csrf_of(client: httpx.Client, path: str = "/admin") -> str:
    """The session's CSRF token, as a page's forms carry it."""
    page = client.get(path)
    found = CSRF.search(page.text)
    assert found, page.text
    return found[1]


def desk_credentials(engine: Engine, settings: Settings) -> tuple[str, str]:
    """An admin's session made directly in the database: (the `Cookie` header value, the
    CSRF token), for the walks that send hostile values to every route's parameters."""
    with session_scope(engine) as session:
        account = find_account(session, "walker@team.example") or add_account(
            session, "walker@team.example", Role.ADMIN, PASSWORD, COMMAND_LINE
        )
        opened = open_session(session, account)
    signer = CookieSigner(settings.secret(), settings.admin_idle_timeout)
    return f"{COOKIE}={signer.sign(opened.token)}", opened.csrf_token
