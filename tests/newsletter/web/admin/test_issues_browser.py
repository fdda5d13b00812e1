"""In real Chromium: an editor signs in, approves an issue from its desk page (ticking the
confirmation first) and sees its status change; the page fits a 375 px phone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from newsletter.accounts.roles import Role
from newsletter.core.settings import Settings
from newsletter.publishing.lifecycle import IssueStatus
from tests.newsletter.web.admin.desk import PASSWORD, email_of
from tests.newsletter.web.admin.issue_helpers import audited, built, status

pytestmark = pytest.mark.browser

ARTIFACTS = Path("var/artifacts/screenshots")


def test_an_editor_approves_an_issue_and_sees_its_status_change(
    browser: Any, desk: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    built(engine, settings, tmp_path)
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{desk}/admin/issues/1")  # to the sign-in form, and back here after
        page.fill("#email", email_of(Role.EDITOR))
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/admin/issues/1")
        assert page.inner_text("#issue-status") == "draft"
        approve = page.locator("form[action='/admin/issues/1/approve']")
        approve.locator("input[name=confirm]").check()
        approve.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r"/admin/issues/1\?done=approve$"))
        assert page.inner_text("#issue-status") == "approved"
        assert "Approved." in page.inner_text("[role=status]")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        for frame in ("iframe.desktop", "iframe.phone"):  # the snapshot at 600 and 375 px
            assert "Unsubscribe" in page.frame_locator(frame).locator("body").inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "desk_issue_approved.png"), full_page=True)
        page.locator("iframe.phone").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "desk_issue_email.png"))
    finally:
        context.close()
    assert status(engine) == IssueStatus.APPROVED
    assert [a[1] for a in audited(engine)] == ["issue approve"]
