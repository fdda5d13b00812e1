"""In real Chromium: a viewer signs in through the form, the dashboard's growth chart
loads as an image (under the SVG's own policy), and the printable report shows the
funnel, the hourly chart and the links table. Screenshots go to var/artifacts/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from newsletter.accounts.roles import Role
from newsletter.core.settings import PROJECT_ROOT, Settings
from tests.newsletter.analytics.desk_events import LINK_A, sent_with_events
from tests.newsletter.web.admin.desk import PASSWORD, email_of

pytestmark = pytest.mark.browser

SHOTS = PROJECT_ROOT / "var" / "artifacts" / "screenshots"

LOADED = "(selector) => { const img = document.querySelector(selector); return img.complete && img.naturalWidth; }"


def test_the_dashboard_chart_and_the_report_in_chromium(
    browser: Any, desk: str, engine: Engine, settings: Settings
) -> None:
    sent_with_events(engine, settings)
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1024, "height": 900})
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Refused" in m.text else None)
    try:
        page.goto(f"{desk}/admin")
        page.fill("#email", email_of(Role.VIEWER))
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{desk}/admin")
        page.wait_for_function(LOADED, arg='img[src^="/admin/charts/growth.svg"]')
        assert page.evaluate(LOADED, 'img[src^="/admin/charts/growth.svg"]') > 0
        # 30 sent to; two hard bounces, a complaint and an unsubscribe left the list
        assert page.locator('[data-status="active"]').inner_text() == "26"
        assert page.locator('[data-status="bounced"]').inner_text() == "2"
        page.screenshot(path=str(SHOTS / "numbers_dashboard.png"), full_page=True)
        page.emulate_media(color_scheme="dark")
        page.screenshot(path=str(SHOTS / "numbers_dashboard_dark.png"), full_page=True)
        page.emulate_media(color_scheme="light")

        page.goto(f"{desk}/admin/issues/7/report")
        page.wait_for_function(LOADED, arg='img[src="/admin/issues/7/activity.svg"]')
        assert page.locator("#funnel li").count() == 5
        assert page.locator("#funnel li").nth(2).inner_text().startswith("Delivered")
        assert page.locator("#links td.url").first.inner_text() == LINK_A
        page.screenshot(path=str(SHOTS / "numbers_report.png"), full_page=True)

        page.set_viewport_size({"width": 375, "height": 800})
        wide = page.evaluate("() => document.documentElement.scrollWidth")
        page.screenshot(path=str(SHOTS / "numbers_report_375.png"), full_page=True)
        assert wide <= 375
    finally:
        context.close()
    assert refused == []
