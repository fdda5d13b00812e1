"""Each offline check on crafted bad input."""

from __future__ import annotations

from datetime import date

from newsletter.delivery import Recipient, placeholders
from newsletter.delivery.headers import unsubscribe_headers
from newsletter.publishing.checks.findings import Level
from newsletter.publishing.checks.message import (
    check_comparisons,
    check_footer,
    check_images,
    check_links,
    check_placeholders,
    check_size,
    check_subject,
)
from newsletter.publishing.render import ComparisonView, TakeView, ToolView

SITE = "https://verdicts.example.com"
UNSUB = f"{SITE}/unsubscribe/abc.def"
ADDRESS = "Verdicts Ltd, 12 Test Lane"


def _recipient(headers: dict[str, str] | None = None) -> Recipient:
    return Recipient(
        subscriber_id=1,
        email="r@example.com",
        name=None,
        substitutions={placeholders.UNSUBSCRIBE: UNSUB},
        headers=unsubscribe_headers(UNSUB) if headers is None else headers,
    )


def _messages(findings) -> list[str]:
    return [f.message for f in findings]


def test_size_thresholds() -> None:
    assert check_size("x" * 80 * 1024) == []
    warning = check_size("x" * (80 * 1024 + 1))
    assert [f.level for f in warning] == [Level.WARNING]
    grown = check_size("<p>" + "y" * 101 * 1024 + "</p>")
    assert [f.level for f in grown] == [Level.ERROR]
    assert "Gmail clips" in grown[0].message


def test_image_without_alt() -> None:
    html = '<p>\n<img src="https://x/a.png" alt="A chart">\n<img src="https://x/b.png">\n<img src="https://x/c.png" alt=" "></p>'
    assert _messages(check_images(html)) == [
        "line 3: image 'https://x/b.png' has no alt text",
        "line 4: image 'https://x/c.png' has no alt text",
    ]


def test_links_must_be_absolute_https_with_text_and_never_javascript() -> None:
    html = (
        f'<a href="{SITE}/issues/1">Read</a>\n'
        '<a href="https://vendor.example.com/">Vendor</a>\n'
        '<a href="javascript:alert(1)">Click</a>\n'
        '<a href="http://plain.example.com/">Plain</a>\n'
        '<a href="/relative">Relative</a>\n'
        '<a href="https://empty.example.com/"> </a>\n'
        '<a href="https://logo.example.com/"><img src="https://x/l.png" alt="Logo"></a>\n'
    )
    assert _messages(check_links(html, SITE)) == [
        "line 3: link 'javascript:alert(1)' is a javascript: link",
        "line 4: link 'http://plain.example.com/' is not absolute https or the site URL",
        "line 5: link '/relative' is not absolute https or the site URL",
        "line 6: link 'https://empty.example.com/' has no visible text",
    ]


def test_subject_and_preheader() -> None:
    assert check_subject("Verdicts #1: A vs B", "The verdict") == []
    assert _messages(check_subject("Verdicts #1:\nA vs B", "x")) == [
        "the subject line contains a line break"
    ]
    assert _messages(check_subject("x" * 81, "x")) == [
        "the subject line is 81 characters (at most 80)"
    ]
    assert _messages(check_subject(" ", "")) == [
        "the subject line is empty",
        "the preheader is empty",
    ]


def test_footer_and_headers() -> None:
    good_html = f'<a href="{UNSUB}">Unsubscribe</a> {ADDRESS}'
    good_text = f"Unsubscribe: {UNSUB}\n{ADDRESS}"
    assert check_footer(good_html, good_text, _recipient(), ADDRESS) == []
    assert _messages(check_footer("no footer", "none", _recipient({}), ADDRESS)) == [
        "the HTML has no unsubscribe link",
        "the text part has no unsubscribe link",
        "the postal address is missing from the footer",
        "no List-Unsubscribe header",
        "no List-Unsubscribe-Post: List-Unsubscribe=One-Click",
    ]


def test_placeholders_left_after_filling() -> None:
    filled = f'<a href="{UNSUB}">Unsubscribe</a>'
    assert check_placeholders(filled, f"Unsubscribe: {UNSUB}") == []
    html = f"{filled} %%survey_url%% %%survey_url%% {placeholders.VIEW}"
    assert _messages(check_placeholders(html, "Save 50% %%x%%")) == [
        "the HTML still holds %%survey_url%%, %%view_url%% after filling "
        "(delivery fills no such marker)",
        "the text part still holds %%x%% after filling (delivery fills no such marker)",
    ]


def _tool(name: str, pricing: str = "Free", takes: int = 1) -> ToolView:
    return ToolView(
        slug=name.lower(),
        name=name,
        vendor="V",
        category="C",
        tagline="T",
        description="D",
        pricing_entry=pricing,
        pricing_note=None,
        url="https://x.example.com/",
        ship_share="50%",
        community_share="—",
        favoured_by=[],
        takes=[TakeView("R", "Lens", "ship", "A take.")] * takes,
        vote_url="",
    )


def test_comparison_blocks() -> None:
    good = ComparisonView(
        1,
        "a-vs-b",
        "A vs B",
        "Q?",
        date(2026, 11, 23),
        "Verdict.",
        "u",
        [_tool("A"), _tool("B")],
        [],
        0,
    )
    assert check_comparisons([good]) == []
    bad = ComparisonView(
        1,
        "a-vs-b",
        "A vs B",
        "Q?",
        date(2026, 11, 23),
        " ",
        "u",
        [_tool("A", pricing=""), _tool("B", takes=0)],
        [],
        0,
    )
    assert _messages(check_comparisons([bad])) == [
        "comparison 'a-vs-b' has no verdict",
        "comparison 'a-vs-b': A has no pricing",
        "comparison 'a-vs-b': B has no take",
    ]
    assert _messages(check_comparisons([])) == ["the issue holds no comparison"]
