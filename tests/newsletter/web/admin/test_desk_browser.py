"""The desk in real Chromium: signing in through the form, the lock after five failures
shown on the page, a form without its CSRF token refused, a viewer's navigation without
the admins' entries, and no desk page scrolling sideways on a 375 px phone.

The walks start from the navigation the page shows (and follow each page's desk links one
level down), so pages merged later are covered without a change here. Screenshots go to
var/artifacts/screenshots/ (CI keeps them)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine

from newsletter.accounts.audit import COMMAND_LINE
from newsletter.accounts.roles import Role
from newsletter.accounts.team import add_account, find_account
from newsletter.core.database import session_scope
from newsletter.core.settings import PROJECT_ROOT
from tests.newsletter.web.admin.desk import PASSWORD, email_of

pytestmark = pytest.mark.browser

SHOTS = PROJECT_ROOT / "var" / "artifacts" / "screenshots"
PHONE = 375
LINKS = "() => [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))"
NAV = "() => [...document.querySelectorAll('header nav a')].map(a => a.getAttribute('href'))"
WIDTH = "() => document.documentElement.scrollWidth"
MAX_PAGES = 40
"""The walk's bound: one page per shape of address (digits folded), at most this many."""


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    made = browser.new_context(viewport={"width": 1024, "height": 800})
    yield made
    made.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, base: str, email: str, password: str = PASSWORD) -> Any:
    page.goto(f"{base}/admin/sign-in")
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("form[action='/admin/sign-in'] button[type=submit]")
    return page


def test_sign_in_through_the_form_lands_where_it_was_asked(desk: str, context: Any) -> None:
    page = context.new_page()
    page.goto(f"{desk}/admin/audit")
    assert urlsplit(page.url).path == "/admin/sign-in"  # no session: asked to sign in first
    page.fill("#email", email_of(Role.ADMIN))
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("form[action='/admin/sign-in'] button[type=submit]")
    assert urlsplit(page.url).path == "/admin/audit"  # and taken back
    assert page.locator("header.desk .who").inner_text().startswith("admin@team.example")
    shot(page, "desk-signed-in")


def test_the_lock_after_five_failed_sign_ins_is_shown(desk: str, context: Any) -> None:
    page = context.new_page()
    for _ in range(5):
        sign_in(page, desk, email_of(Role.EDITOR), "not the password")
        assert "do not match an account" in page.locator("[role=alert]").inner_text()
    sign_in(page, desk, email_of(Role.EDITOR))  # the right password, too late
    alert = page.locator("[role=alert]").inner_text()
    assert alert == "Too many failed sign-ins for this address: try again in 15 minutes."
    assert urlsplit(page.url).path == "/admin/sign-in"
    shot(page, "desk-sign-in-locked")


def test_a_form_without_its_csrf_token_is_refused(desk: str, context: Any, engine: Engine) -> None:
    page = sign_in(context.new_page(), desk, email_of(Role.ADMIN))
    page.goto(f"{desk}/admin/accounts")
    form = page.locator("form[action='/admin/accounts/disable']")
    form.locator("select[name=email]").select_option(email_of(Role.VIEWER))
    form.locator("input[name=confirm]").check()
    removed = form.evaluate("f => { f.querySelector('input[name=csrf]').remove(); return 1; }")
    assert removed == 1
    with page.expect_response(lambda r: r.url.endswith("/admin/accounts/disable")) as sent:
        form.locator("button[type=submit]").click()
    assert sent.value.status == 403
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Form expired"
    shot(page, "desk-csrf-refused")
    with session_scope(engine) as session:
        viewer = find_account(session, email_of(Role.VIEWER))
        assert viewer is not None
        assert viewer.disabled_at is None


def test_a_viewer_sees_no_entry_it_may_not_open(desk: str, context: Any) -> None:
    page = sign_in(context.new_page(), desk, email_of(Role.VIEWER))
    entries = page.evaluate(NAV)
    assert "/admin" in entries
    assert "/admin/accounts" not in entries
    assert "/admin/audit" not in entries
    for href in entries:
        answer = page.goto(desk + href)
        assert answer.status != 403, href
    shot(page, "desk-viewer-nav")


def _shape(href: str) -> str:
    return re.sub(r"\d+", "#", urlsplit(href).path)


def _desk_link(href: str) -> bool:
    parts = urlsplit(href)
    return not parts.scheme and not parts.netloc and parts.path.startswith("/admin")


def test_no_desk_page_scrolls_sideways_at_375_px(desk: str, browser: Any, engine: Engine) -> None:
    """As an admin (who sees every page), with a long address in the tables."""
    with session_scope(engine) as session:
        long = "a.very.long.address.for.a.narrow.screen@a-long-team-domain.example"
        add_account(session, long, Role.VIEWER, PASSWORD, COMMAND_LINE)
    phone = browser.new_context(viewport={"width": PHONE, "height": 800}, is_mobile=True)
    try:
        page = sign_in(phone.new_page(), desk, email_of(Role.ADMIN))
        start = [h for h in page.evaluate(NAV) if _desk_link(h)]
        assert "/admin/accounts" in start
        queue = list(start)
        seen: dict[str, str] = {}
        wide: list[tuple[str, int]] = []
        depth = dict.fromkeys(start, 0)
        while queue and len(seen) < MAX_PAGES:
            href = queue.pop(0)
            if _shape(href) in seen:
                continue
            head = phone.request.get(desk + href, max_redirects=0)
            if "text/html" not in head.headers.get("content-type", "") or head.status >= 300:
                seen[_shape(href)] = f"skipped: {head.status} {head.headers.get('content-type')}"
                continue
            page.goto(desk + href)
            seen[_shape(href)] = href
            width = page.evaluate(WIDTH)
            if width > PHONE:
                wide.append((href, width))
            name = re.sub(r"[^a-z0-9]+", "-", href.lower()).strip("-")
            shot(page, f"desk-375-{name}")
            if depth[href] == 0:
                for link in page.evaluate(LINKS):
                    if _desk_link(link) and link not in depth:
                        depth[link] = 1
                        queue.append(link)
        assert wide == [], wide
        walked = [v for v in seen.values() if not v.startswith("skipped")]
        assert {"/admin", "/admin/accounts", "/admin/audit"} <= set(walked)
        # nothing left out but a download or a page not built yet (the nav names them all)
        skipped = [v for v in seen.values() if v.startswith("skipped")]
        assert all(" 404 " in v or " 200 " in v for v in skipped), skipped
    finally:
        phone.close()
