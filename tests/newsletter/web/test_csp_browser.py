"""In real Chromium: every page renders under its Content-Security-Policy (the stylesheets
apply, the preview's frames show the email and its script reloads the page) and the
browser reports no violation; an inline script is refused, so the policy is in force."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from newsletter.core.settings import Settings
from newsletter.web.app import create_app
from tests.conftest import serve
from tests.factories import comparison, write_content
from tests.newsletter.web.helpers import issue_for

pytestmark = pytest.mark.browser

# Every frame records the violations its policy reports, before any script of the page.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""

INLINE_PROBE = """
() => { const s = document.createElement("script");
        s.textContent = "window.__inline = 1"; document.head.append(s);
        return window.__inline === undefined; }
"""


@dataclass
class Watched:
    page: Any
    console: list[str] = field(default_factory=list)

    def csp_messages(self) -> list[str]:
        return [m for m in self.console if "Content Security Policy" in m or "Refused" in m]

    def violations(self) -> list[str]:
        found: list[str] = []
        for frame in self.page.frames:
            found += frame.evaluate("() => window.__violations || []")
        return found


@pytest.fixture
def watch(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1024, "height": 800})
    context.add_init_script(RECORD_VIOLATIONS)

    def open_page() -> Watched:
        page = context.new_page()
        watched = Watched(page)
        page.on("console", lambda m: watched.console.append(f"{m.type}: {m.text}"))
        return watched

    yield open_page
    context.close()


def test_the_sites_pages_render_under_the_policy(
    watch: Any, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    issue_for(engine, settings, tmp_path, "2026-W48", ["one"], "2026-11-24")
    with serve(create_app(settings, engine)) as port:
        base = f"http://127.0.0.1:{port}"
        for path in ("/", "/issues/1", "/comparisons/one", "/subscribe", "/nothing/here"):
            watched = watch()
            answer = watched.page.goto(base + path)
            assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
            # The stylesheet applied: the header's flex layout and the card's border.
            header = watched.page.locator("header.site")
            assert header.evaluate("e => getComputedStyle(e).display") == "flex", path
            assert watched.violations() == [], path
            assert watched.csp_messages() == [], path
            assert watched.page.evaluate(INLINE_PROBE), f"an inline script ran on {path}"
            assert watched.violations() == ["script-src-elem inline"], path
            watched.page.close()


def test_the_preview_page_its_frames_and_its_reload_work_under_the_policy(
    watch: Any, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    settings.content_dir = write_content(tmp_path / "content", [comparison("one", "2026-11-24")])
    with serve(create_app(settings, engine, preview=True)) as port:
        watched = watch()
        page = watched.page
        page.goto(f"http://127.0.0.1:{port}/preview?week=2026-W48")
        assert page.locator("header").evaluate("e => getComputedStyle(e).display") == "flex"
        frame = page.frame_locator("#frame-desktop").locator("body")
        assert "One A vs One B" in frame.inner_text()
        assert len(page.frames) == 3  # the page and its two frames
        shown = page.locator("body").get_attribute("data-version")
        file = settings.content_dir / "comparisons" / "one.yaml"
        file.write_text(file.read_text().replace("The verdict on one.", "A new verdict."))
        deadline = time.monotonic() + 10
        while page.locator("body").get_attribute("data-version") == shown:
            assert time.monotonic() < deadline, "the page did not reload itself"
            page.wait_for_timeout(100)
        assert "A new verdict." in page.frame_locator("#frame-phone").locator("body").inner_text()
        assert watched.csp_messages() == []
        assert page.evaluate("() => window.__violations") == []
        assert page.evaluate(INLINE_PROBE), "an inline script ran on the preview page"
        page.close()


def test_the_api_docs_start_under_their_policy(
    watch: Any, engine: Engine, settings: Settings
) -> None:
    """Swagger UI, from the installed package and nothing from elsewhere, renders the
    API's operations under the docs page's policy."""
    with serve(create_app(settings, engine)) as port:
        watched = watch()
        page = watched.page
        outside: list[str] = []
        page.on(
            "request",
            lambda request: (
                outside.append(request.url)
                if not request.url.startswith(f"http://127.0.0.1:{port}/")
                and not request.url.startswith("data:")
                else None
            ),
        )
        page.goto(f"http://127.0.0.1:{port}/docs")
        page.locator(".opblock").first.wait_for(timeout=15_000)
        assert page.locator(".opblock").count() >= 3  # the subscribers API's operations
        assert outside == []
        assert watched.csp_messages() == []
        assert page.evaluate("() => window.__violations") == []
        page.close()
