"""Only people act on links, in a real browser: mail scanners open every link of an email
in headless Chromium, scripts on. Opening a link changes nothing; the page's button does
what the link says, with scripts on or off; the pages fit a phone. On SQLite and
PostgreSQL; skipped, with the reason, where no Chromium is installed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from newsletter.core.settings import Settings
from tests.newsletter.web.helpers import snapshot
from tests.newsletter.web.link_kinds import TITLE, acted, every_link, sample_links, sent_issue
from tests.newsletter.web.test_preview_browser import _shot

pytestmark = pytest.mark.browser

BUTTON = "main form[method=post] button[type=submit]"


def _settle(page: Any) -> None:
    """Give the page every chance to act by itself: load, scripts, idle network."""
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(200)


@pytest.mark.parametrize("scripts", [True, False], ids=["scripts-on", "scripts-off"])
def test_opening_each_link_changes_nothing_and_its_button_acts(
    browser: Any,
    live_app: str,
    engine: Engine,
    settings: Settings,
    tmp_path: Path,
    scripts: bool,
) -> None:
    links = every_link(engine, settings, tmp_path)
    context = browser.new_context(java_script_enabled=scripts)
    page = context.new_page()
    for kind, url in links.kinds().items():
        before = snapshot(engine)
        answer = page.goto(url)
        assert answer is not None, kind
        assert answer.status == 200, kind
        _settle(page)
        assert page.locator("script").count() == 0, "the site's pages carry no script"
        assert snapshot(engine) == before, f"opening the {kind} link changed something"
        assert not acted(engine, kind), kind
        with page.expect_navigation():
            page.click(BUTTON)
        assert acted(engine, kind), f"the {kind} button did not act"
    context.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_the_vote_page_shows_the_comparison_and_fits_a_phone(
    browser: Any, live_app: str, engine: Engine, settings: Settings, tmp_path: Path, width: int
) -> None:
    links = every_link(engine, settings, tmp_path)
    page = browser.new_page(viewport={"width": width, "height": 800})
    page.goto(links.vote)
    _settle(page)
    main = page.inner_text("main")
    assert TITLE in main
    assert "Vote Alpha Tool?" in main
    assert "Beta Tool" in main  # every tool of the comparison, not only the one voted for
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{overflow}px of horizontal scroll at {width}px"
    button = page.locator(BUTTON).bounding_box()
    assert button is not None
    assert button["y"] + button["height"] <= 800, "the button is below the first screen"
    _shot(page, f"vote-landing-{width}")
    with page.expect_navigation():
        page.click(BUTTON)
    assert "Thanks: your vote is Alpha Tool" in page.inner_text("main")
    assert acted(engine, "vote")
    _shot(page, f"vote-cast-{width}")
    page.close()


def test_a_previews_sample_links_work_and_change_nothing(
    browser: Any, live_app: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    issue = sent_issue(engine, settings, tmp_path, tools_on_site=False)
    before = snapshot(engine)
    page = browser.new_page(viewport={"width": 375, "height": 800})
    for url in sample_links(engine, settings, issue).values():
        page.goto(url)
        _settle(page)
        assert "This is a sample link" in page.inner_text("main")
        with page.expect_navigation():
            page.click(BUTTON)
        assert "Nothing was changed" in page.inner_text("main")
    _shot(page, "sample-link-375")
    page.close()
    assert snapshot(engine) == before
