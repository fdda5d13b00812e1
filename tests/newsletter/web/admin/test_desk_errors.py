"""Errors on the desk are shown in the desk's frame (its stylesheet, its navigation for
whoever is signed in), with the status of their kind; the public site keeps its own."""

from __future__ import annotations

import httpx

from newsletter.accounts.roles import Role
from tests.newsletter.web.admin.desk import csrf_of, signed_in

DESK_FRAME = "/static/admin.css"


def test_a_newsletter_error_on_the_desk_is_a_desk_page(desk: str) -> None:
    with signed_in(desk, Role.ADMIN) as browser:
        csrf = csrf_of(browser, "/admin/accounts")
        missing = browser.post(
            "/admin/accounts/enable",
            data={"csrf": csrf, "confirm": "yes", "email": "nobody@team.example"},
        )
        conflict = browser.post(
            "/admin/accounts",
            data={
                "csrf": csrf,
                "confirm": "yes",
                "email": "viewer@team.example",
                "role": "viewer",
                "password": "a long enough password",
                "password_again": "a long enough password",
            },
        )
    for answer, code, text in (
        (missing, 404, "no account for nobody@team.example"),
        (conflict, 409, "viewer@team.example already has an account"),
    ):
        assert answer.status_code == code
        assert text in answer.text
        assert DESK_FRAME in answer.text
        assert "admin@team.example · admin" in answer.text  # the nav: still on the desk
        assert "Past issues" not in answer.text  # the public message page's button


def test_a_request_the_route_cannot_read_is_a_desk_422(desk: str) -> None:
    with signed_in(desk, Role.ADMIN) as browser:
        answer = browser.get("/admin/audit", params={"before": "zero"})
    assert answer.status_code == 422
    assert DESK_FRAME in answer.text
    assert "was not understood" in answer.text
    assert "admin@team.example" in answer.text


def test_an_unknown_desk_address_is_a_desk_404(desk: str) -> None:
    with httpx.Client(base_url=desk, trust_env=False) as anonymous:
        answer = anonymous.get("/admin/no-such-page")
        public = anonymous.get("/no-such-page")
    assert answer.status_code == 404
    assert DESK_FRAME in answer.text
    assert "Nothing on the desk lives at this address" in answer.text
    assert public.status_code == 404
    assert DESK_FRAME not in public.text  # the reader's page is the site's own
    assert "Past issues" in public.text


def test_a_refused_role_sees_the_desk_frame_with_its_nav(desk: str) -> None:
    with signed_in(desk, Role.VIEWER) as browser:
        answer = browser.get("/admin/accounts")
    assert answer.status_code == 403
    assert "viewer@team.example · viewer" in answer.text
    assert DESK_FRAME in answer.text
