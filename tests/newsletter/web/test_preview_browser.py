"""What a reader's browser shows, measured in Debian's headless Chromium through Playwright.

Screenshots land in test-artifacts/ for a person to look at. Skipped, with the reason,
where no Chromium is installed; .ci/run installs it so CI always runs these (the `browser`
fixture is in conftest.py).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from newsletter.core.database import session_scope
from newsletter.core.settings import PROJECT_ROOT, Settings
from newsletter.delivery.placeholders import fill
from newsletter.publishing.content import load_content
from newsletter.publishing.issues import build_issue
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.publishing.preview import force_dark, sample_recipient
from newsletter.web.app import create_app
from tests.conftest import serve

pytestmark = pytest.mark.browser

ARTIFACTS = PROJECT_ROOT / "test-artifacts"

# For every element with its own visible text: its colour, the colour of the nearest
# ancestor background, and the contrast ratio between them (WCAG formula).
CONTRAST_JS = """
() => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0)) return c;
    }
    return [255, 255, 255];
  };
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const box = el.getBoundingClientRect();
    if (!own || box.width === 0 || box.height === 0) continue;
    const fg = parse(getComputedStyle(el).color), bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    out.push({text: el.textContent.trim().slice(0, 40), fg, bg, ratio: (a + 0.05) / (b + 0.05)});
  }
  return out;
}
"""


@pytest.fixture
def issue_html(engine: Engine, settings: Settings) -> str:
    """The shipped content's week-48 issue, as the sample subscriber gets it."""
    settings.comparisons_per_issue = 3
    with session_scope(engine) as session:
        load_content(session, settings.content_dir)
    with session_scope(engine) as session:
        issue = build_issue(session, "2026-W48", settings).issue
        recipient = sample_recipient(session, issue, settings)
    return fill(issue.html, recipient.substitutions)


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _tool_boxes(page: Any) -> list[dict[str, float]]:
    """The first comparison's tool columns."""
    boxes = page.eval_on_selector_all(
        ".tools .tool",
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return {x: r.x, y: r.y, w: r.width, h: r.height}; })",
    )
    assert len(boxes) >= 2
    return list(boxes[:2])


def test_phone_width_stacks_the_tools_without_horizontal_scroll(
    browser: Any, issue_html: str, database_url: str
) -> None:
    page = browser.new_page(viewport={"width": 375, "height": 800})
    page.set_content(issue_html)
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{overflow}px of horizontal scroll at 375px"
    first, second = _tool_boxes(page)
    assert second["y"] >= first["y"] + first["h"] - 1, "tools should stack on a phone"
    assert abs(first["x"] - second["x"]) < 2
    _shot(page, f"email-375-{database_url.split(':')[0]}")
    page.close()


def test_desktop_width_puts_the_tools_side_by_side(browser: Any, issue_html: str) -> None:
    page = browser.new_page(viewport={"width": 600, "height": 800})
    page.set_content(issue_html)
    first, second = _tool_boxes(page)
    assert abs(first["y"] - second["y"]) < 2, "tools should sit side by side at 600px"
    assert second["x"] >= first["x"] + first["w"] - 1
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 600
    _shot(page, "email-600")
    page.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_text_is_invisible(browser: Any, issue_html: str, scheme: str) -> None:
    context = browser.new_context(viewport={"width": 600, "height": 800}, color_scheme=scheme)
    page = context.new_page()
    page.set_content(issue_html)
    if scheme == "dark":  # the media query really applies in this browser
        assert page.evaluate("() => matchMedia('(prefers-color-scheme: dark)').matches")
        body_bg = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert body_bg == "rgb(11, 15, 23)"
    texts = page.evaluate(CONTRAST_JS)
    assert len(texts) > 20
    poor = [t for t in texts if t["ratio"] < 3]
    assert poor == [], poor[:5]
    _shot(page, f"email-{scheme}")
    context.close()


def test_forced_dark_in_the_preview_matches_the_dark_media_query(
    browser: Any, issue_html: str
) -> None:
    """The preview's dark switch applies the email's own dark styles."""
    page = browser.new_page(viewport={"width": 600, "height": 800})
    page.set_content(force_dark(issue_html))
    assert (
        page.evaluate("() => getComputedStyle(document.body).backgroundColor") == "rgb(11, 15, 23)"
    )
    assert [t for t in page.evaluate(CONTRAST_JS) if t["ratio"] < 3] == []
    page.close()


def test_preview_page_loads_shows_the_issue_and_switches_width(
    browser: Any, engine: Engine, settings: Settings
) -> None:
    with serve(create_app(settings, engine, preview=True)) as port:
        base = f"http://127.0.0.1:{port}"
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/preview?week=2026-W48")
        assert "Issue #1" in page.inner_text("header")
        assert page.inner_text(".inbox .subject").startswith("Verdicts #1: ")
        frame = page.frame_locator("#frame-desktop")
        assert "Weekly AI Tool Verdicts" in frame.locator("body").inner_text()
        assert page.locator("#frame-phone").bounding_box()["width"] == pytest.approx(375, abs=2)
        assert page.locator("#frame-desktop").bounding_box()["width"] == pytest.approx(600, abs=2)
        _shot(page, "preview-both")
        page.click("#view-phone")
        page.wait_for_url("**view=phone**")
        assert page.locator("#frame-desktop").count() == 0
        assert page.locator("#frame-phone").count() == 1
        page.click("#scheme-dark")
        page.wait_for_url("**scheme=dark**")
        phone = page.frame_locator("#frame-phone").locator("body")
        assert phone.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(11, 15, 23)"
        _shot(page, "preview-phone-dark")
        assert "Plain text" in page.inner_text("main")
        page.close()
        assert httpx.get(f"{base}/preview/version", trust_env=False).status_code == 200


# -- How the issue and the site read: every sample comparison, the three-tool one included.

REVIEWER_NAMES = ("Priya Raman", "Daniel Okafor", "Helena Lindqvist", "Marco Bellini")
THREE_TOOLS = "perplexity-pro-vs-chatgpt-vs-gemini-deep-research"

# Per comparison in the email: its tool columns, its vote buttons (boxes), and its text.
EMAIL_COMPARISONS_JS = """
() => [...document.querySelectorAll(".comparison")].map((c) => {
  const box = (e) => { const r = e.getBoundingClientRect();
    return {x: r.x, y: r.y, w: r.width, h: r.height, text: e.textContent.trim()}; };
  const named = (e) => ({...box(e), name: e.querySelector(".tool-name").textContent.trim()});
  return {tools: [...c.querySelectorAll(".tool")].map(named),
          votes: [...c.querySelectorAll("a.vote")].map(box), text: c.innerText};
})
"""


@pytest.fixture
def every_comparison(engine: Engine, settings: Settings) -> str:
    """One issue holding all of content/ (eight comparisons, one of them of three tools),
    sent, as the sample subscriber gets it."""
    settings.comparisons_per_issue = 8
    with session_scope(engine) as session:
        load_content(session, settings.content_dir)
    with session_scope(engine) as session:
        issue = build_issue(session, "2026-W48", settings).issue
        recipient = sample_recipient(session, issue, settings)
        issue.status = IssueStatus.SENT  # so every comparison page is public
    return fill(issue.html, recipient.substitutions)


def _panel_split(text: str) -> str:
    return text.split("The panel split", 1)[1].split("Read the full comparison", 1)[0]


@pytest.mark.parametrize("width", [375, 600])
def test_the_emails_vote_buttons_line_up_and_its_texts_read_right(
    browser: Any, every_comparison: str, width: int
) -> None:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_content(every_comparison)
    comparisons = page.evaluate(EMAIL_COMPARISONS_JS)
    assert len(comparisons) == 8
    assert sorted(len(c["tools"]) for c in comparisons) == [2] * 7 + [3]
    for c in comparisons:
        tools, votes = c["tools"], c["votes"]
        assert [v["text"] for v in votes] == [f"Vote {t['name']}" for t in tools]
        if width == 600:  # one row of tools, and one row of buttons, each under its tool
            assert {round(t["y"]) for t in tools} == {round(tools[0]["y"])}, tools
            assert max(abs(v["y"] - votes[0]["y"]) for v in votes) < 1, votes
            for tool, vote in zip(tools, votes, strict=True):
                assert abs(tool["x"] + 8 - vote["x"]) < 2, (tool, vote)  # the column's padding
                assert vote["y"] >= max(t["y"] + t["h"] for t in tools) - 1
        else:  # a phone stacks them: one column of full-width buttons, in the tools' order
            assert {(round(v["x"]), round(v["w"])) for v in votes} == {
                (round(votes[0]["x"]), round(votes[0]["w"]))
            }
            for upper, lower in itertools.pairwise(votes):
                assert lower["y"] >= upper["y"] + upper["h"], (upper, lower)
        text = c["text"]
        assert text.count("Community vote: no votes yet") == len(tools)
        assert not re.search(r"^\s*—", text, re.M), "a dash where a figure should be"
        split = _panel_split(text)
        assert [split.count(name) for name in REVIEWER_NAMES] == [1, 1, 1, 1], split
        assert "nobody favours" not in split
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    _shot(page, f"email-every-comparison-{width}")
    page.close()


@pytest.mark.parametrize("width", [375, 720, 1280])
def test_the_site_shows_three_tools_in_one_row_and_reads_as_a_page(
    browser: Any, every_comparison: str, engine: Engine, settings: Settings, width: int
) -> None:
    with serve(create_app(settings, engine)) as port:
        base = f"http://127.0.0.1:{port}"
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(f"{base}/comparisons/{THREE_TOOLS}")
        cards = page.eval_on_selector_all(
            ".tools > *",
            "els => els.map(e => { const r = e.getBoundingClientRect();"
            " return {x: r.x, y: r.y, w: r.width, h: r.height}; })",
        )
        assert len(cards) == 3
        # One row, not two-plus-one. At 720 px the column is 688 px wide: a rule that wants
        # 14rem per tool (`repeat(auto-fit, minmax(14rem, 1fr))`) fits two and wraps the third.
        if width >= 720:
            assert max(abs(c["y"] - cards[0]["y"]) for c in cards) < 1, cards
            assert max(abs(c["w"] - cards[0]["w"]) for c in cards) < 1, cards
        else:
            for upper, lower in itertools.pairwise(cards):
                assert lower["y"] >= upper["y"] + upper["h"], cards
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        text = page.inner_text("main")
        assert text.count("Community vote: no votes yet") == 3
        panel = text.split("The panel", 1)[1]
        assert [panel.count(name) for name in REVIEWER_NAMES] == [1, 1, 1, 1]
        _shot(page, f"site-comparison-three-tools-{width}")

        page.goto(f"{base}/issues/1")
        assert page.locator("header.site nav").inner_text().split() == [
            "Past",
            "issues",
            "Subscribe",
        ]
        body = page.inner_text("body")
        assert "View in your browser" not in body
        assert "You get this email because" not in body
        assert page.locator("article.comparison").count() == 8
        _shot(page, f"site-issue-{width}")

        page.goto(f"{base}/issues/not-a-number")
        assert "Page not found" in page.inner_text("main")
        assert page.locator("header.site nav").count() == 1
        _shot(page, f"site-not-found-{width}")
        page.close()
