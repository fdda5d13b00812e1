"""In real Chromium: an admin signs in, searches the list and finds an address, uploads a
CSV and sees the import's report name the bad row; screenshots saved for CI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from newsletter.accounts.roles import Role
from newsletter.core.settings import PROJECT_ROOT
from tests.newsletter.web.admin.desk import PASSWORD, email_of
from tests.newsletter.web.admin.list_data import add_list

pytestmark = pytest.mark.browser
SHOTS = PROJECT_ROOT / "var" / "artifacts" / "screenshots"


def test_an_admin_searches_and_imports_in_the_browser(
    desk: str, engine: Engine, browser: Any, tmp_path: Path
) -> None:
    add_list(engine)
    SHOTS.mkdir(parents=True, exist_ok=True)
    members = tmp_path / "members.csv"
    members.write_text("email,name\nlin@example.com,Lin\nnot an address,Bad\n", encoding="utf-8")
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{desk}/admin/subscribers")
        page.fill("#email", email_of(Role.ADMIN))
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{desk}/admin/subscribers")

        page.fill("input[name=q]", "ada")
        page.click("form.search button[type=submit]")
        page.wait_for_url("**/admin/subscribers?q=ada*")
        assert page.locator("table a", has_text="ada@example.com").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways
        page.screenshot(path=str(SHOTS / "test_admin_subscriber_search.png"), full_page=True)

        page.click("text=Import a CSV")
        page.set_input_files("input[name=file]", str(members))
        page.check("input[name=confirm]")
        page.click("form.action button[type=submit]")
        page.wait_for_selector("text=Done.", timeout=10_000)
        row = page.locator("tbody tr", has_text="not an address")
        assert row.locator("td").first.inner_text() == "3"  # the CSV line
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(SHOTS / "test_admin_subscriber_import.png"), full_page=True)
    finally:
        context.close()
