"""Signing in and out of the desk over HTTP: the session cookie, the lock, CSRF."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine
from sqlmodel import select

from newsletter.accounts.models import AccountSession, AuditEntry
from newsletter.accounts.roles import Role
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.web.admin.auth import COOKIE
from newsletter.web.app import create_app
from tests.conftest import serve
from tests.newsletter.web.admin.desk import (
    PASSWORD,
    add_accounts,
    csrf_of,
    email_of,
    keep,
    sign_in_response,
    signed_in,
)


def client(base: str) -> httpx.Client:
    return httpx.Client(base_url=base, trust_env=False, timeout=10)


def test_pages_need_a_session(desk: str) -> None:
    with client(desk) as anonymous:
        answer = anonymous.get("/admin?week=2026-W48")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/sign-in?next=/admin%3Fweek%3D2026-W48"


def test_sign_in_sets_a_locked_down_cookie_and_opens_the_desk(
    settings: Settings, engine: Engine
) -> None:
    """Built for an https site (the fixture's), as in production: the cookie is Secure."""
    add_accounts(engine)
    with serve(create_app(settings, engine)) as port, client(f"http://127.0.0.1:{port}") as browser:
        answer = sign_in_response(browser, email_of(Role.EDITOR), PASSWORD)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/admin"
        header = next(
            h for h in answer.headers.get_list("set-cookie") if h.startswith(f"{COOKIE}=")
        )
        for flag in ("HttpOnly", "SameSite=Lax", "Secure", "Path=/admin", "Max-Age=43200"):
            assert flag in header
        page = browser.get("/admin")
    assert page.status_code == 200
    assert email_of(Role.EDITOR) in page.text


def test_a_wrong_password_and_an_unknown_address_read_the_same(desk: str) -> None:
    with client(desk) as browser:
        wrong = sign_in_response(browser, email_of(Role.ADMIN), "not the password at all")
        unknown = sign_in_response(browser, "nobody@team.example", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert COOKIE not in (wrong.headers.get("set-cookie") or "")
    assert "do not match an account" in wrong.text
    assert "do not match an account" in unknown.text


def test_five_failures_lock_the_address_even_for_the_right_password(
    desk: str, engine: Engine, settings: Settings
) -> None:
    settings.signin_limit_per_client = ""  # the lock alone: twelve posts, over the throttle
    with client(desk) as browser:
        for _ in range(5):
            assert (
                sign_in_response(browser, email_of(Role.ADMIN), "wrong guess!!").status_code == 401
            )
        locked = sign_in_response(browser, email_of(Role.ADMIN), PASSWORD)
        ghost = [sign_in_response(browser, "ghost@team.example", "x" * 12) for _ in range(6)]
    assert locked.status_code == 429
    assert "try again in 15 minutes" in locked.text
    assert ghost[-1].status_code == 429  # an address without an account locks the same way
    assert "try again in 15 minutes" in ghost[-1].text
    with session_scope(engine) as session:
        actions = session.exec(select(AuditEntry.action)).all()
    assert "sign-in locked" in actions


def test_sign_in_without_the_form_token_is_refused(desk: str) -> None:
    with client(desk) as browser:
        answer = browser.post(
            "/admin/sign-in", data={"email": email_of(Role.ADMIN), "password": PASSWORD}
        )
    assert answer.status_code == 403
    assert COOKIE not in (answer.headers.get("set-cookie") or "")


def test_next_never_leaves_the_desk(desk: str) -> None:
    with client(desk) as browser:
        answer = sign_in_response(
            browser, email_of(Role.VIEWER), PASSWORD, next_path="//evil.example/admin"
        )
    assert answer.headers["location"] == "/admin"


def test_sign_out_ends_the_session_for_good(desk: str, engine: Engine) -> None:
    with signed_in(desk, Role.VIEWER) as browser:
        kept = browser.cookies[COOKIE]
        without = browser.post("/admin/sign-out", data={})
        assert without.status_code == 403  # no CSRF token: still signed in
        answer = browser.post("/admin/sign-out", data={"csrf": csrf_of(browser)})
        assert answer.status_code == 303
        keep(browser, COOKIE, kept)  # the old cookie, replayed
        assert browser.get("/admin").status_code == 303
    with session_scope(engine) as session:
        assert session.exec(select(AccountSession)).all() == []


def test_a_form_token_that_is_not_ascii_is_refused_not_a_500(desk: str) -> None:
    with client(desk) as browser:
        form = browser.get("/admin/sign-in")
        nonce = form.cookies.get("desk_sign_in") or ""
        keep(browser, "desk_sign_in", nonce or "x")
        answer = browser.post(
            "/admin/sign-in",
            data={"email": email_of(Role.ADMIN), "password": PASSWORD, "form_token": "jeté"},
        )
    assert answer.status_code == 403
