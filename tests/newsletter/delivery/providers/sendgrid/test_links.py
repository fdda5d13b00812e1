"""Marking the links SendGrid's click tracking must leave alone: on the real rendered issue,
and on generated HTML full of the places a pattern would go wrong (comments, scripts,
quoting, case, line breaks, a `>` inside an attribute)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery import placeholders
from newsletter.delivery.providers.sendgrid.links import (
    MARK,
    action_link_offsets,
    mark_action_links,
)
from newsletter.publishing.content import load_content
from newsletter.publishing.issues import build_issue
from newsletter.publishing.models import Issue
from newsletter.sending.message import issue_message

SITE = "https://verdicts.example.com"
ACTIONS = (f"{SITE}/unsubscribe/", f"{SITE}/vote/", f"{SITE}/confirm/")
TAG = re.compile(r"<a\s[^>]*>", re.IGNORECASE)
HREF = re.compile(r'href="([^"]*)"')


@pytest.fixture
def sample(engine: Engine, settings: Settings) -> Issue:
    """The issue the repository's own content renders to, as a send would carry it."""
    with session_scope(engine) as session:
        load_content(session, settings.content_dir)
    with session_scope(engine) as session:
        return build_issue(session, "2026-W48", settings).issue


def test_every_action_link_of_the_real_issue_is_marked_and_nothing_else_changes(
    sample: Issue, settings: Settings
) -> None:
    message = issue_message(sample, settings)
    html = sample.html

    marked = mark_action_links(html, message.action_urls)

    before = [(m.start(), HREF.search(m.group()).group(1)) for m in TAG.finditer(html)]  # type: ignore[union-attr]
    after = TAG.findall(marked)
    assert len(before) == len(after) >= 10
    action = [href for _, href in before if placeholders.ANY_MARKER.fullmatch(href)]
    assert {"%%unsubscribe_url%%", "%%view_url%%"} <= set(action)
    assert sum(1 for href in action if placeholders.VOTE_MARKER.fullmatch(href)) >= 4
    content = [href for _, href in before if href not in action]
    assert any(href.startswith(f"{settings.site_url}/comparisons/") for href in content)
    assert any(not href.startswith(settings.site_url) for href in content)  # the tools' sites
    for (_, href), tag in zip(before, after, strict=True):
        assert (MARK in tag) == (href in action), tag
        assert tag.startswith(f"<a{MARK} ") if href in action else tag.startswith("<a ")
    assert marked.replace(MARK, "") == html  # byte for byte, but the marks
    assert marked.count(MARK) == len(action)
    assert mark_action_links(html, message.action_urls) is marked  # once per message


# ---------------------------------------------------------------------- generated HTML

Piece = tuple[str, bool]  # (HTML, whether its first `<a` must be marked)

ACTION_HREFS = st.sampled_from(
    [
        placeholders.UNSUBSCRIBE,
        placeholders.VIEW,
        placeholders.vote(3, 14),
        f"{SITE}/unsubscribe/abc.def",
        f"{SITE}/vote/x_y.z-1",
        f"{SITE}/confirm/t",
        f" {placeholders.VIEW}",  # a browser ignores the space; so does the check
    ]
)
CONTENT_HREFS = st.sampled_from(
    [
        "https://tool.example/",
        f"{SITE}/comparisons/a-vs-b",
        f"{SITE}/",
        f"https://evil.example/?next={SITE}/vote/x",
        "mailto:editor@example.com",
        "%%not a marker",
        "",
    ]
)
OTHER_ATTRIBUTES = st.sampled_from(
    ["", ' class="link"', ' title="a > b"', " data-x='1'", ' style="color:#111"', "\n  "]
)
TEXT = st.text(alphabet="ab <>&;\n\"'", max_size=8).map(
    lambda t: t.replace("<", "&lt;").replace(">", "&gt;")
)


@st.composite
def links(draw: st.DrawFn, hrefs: st.SearchStrategy[str], mark: bool) -> Piece:
    href = draw(hrefs)
    quote = draw(st.sampled_from(['"', "'"]))
    name = draw(st.sampled_from(["a", "A"]))
    href_name = draw(st.sampled_from(["href", "HREF", "Href"]))
    before, after = draw(OTHER_ATTRIBUTES), draw(OTHER_ATTRIBUTES)
    space = draw(st.sampled_from([" ", "\n", "\t", "  "]))
    tag = f"<{name}{space}{before.lstrip() + ' ' if before.strip() else ''}{href_name}={quote}{href}{quote}{after}>"
    return f"{tag}{draw(TEXT)}</{name}>", mark


@st.composite
def hidden(draw: st.DrawFn) -> Piece:
    """An action link where no browser sees one: never marked."""
    inner = f'<a href="{draw(ACTION_HREFS)}">x</a>'
    where = draw(
        st.sampled_from(
            ["<!-- {} -->", "<script>var s = '{}';</script>", "<style>/* {} */</style>"]
        )
    )
    return where.format(inner), False


@st.composite
def already(draw: st.DrawFn) -> Piece:
    """A link that already says what it wants."""
    value = draw(st.sampled_from(["off", "on"]))
    return f'<a clicktracking="{value}" href="{draw(ACTION_HREFS)}">x</a>', False


PIECES = st.one_of(
    links(ACTION_HREFS, True),
    links(CONTENT_HREFS, False),
    hidden(),
    already(),
    TEXT.map(lambda t: (t, False)),
    st.sampled_from(
        [
            ('<abbr title="%%view_url%%">x</abbr>', False),
            ("<a>no address</a>", False),
            ("<br/>", False),
            ('<img src="%%view_url%%" alt="">', False),
            ("<!--[if mso]><table><tr><td><![endif]-->", False),
        ]
    ),
)


@given(st.lists(PIECES, max_size=12))
def test_exactly_the_action_links_are_marked_and_the_rest_is_byte_identical(
    pieces: list[Piece],
) -> None:
    html = "".join(text for text, _ in pieces)
    expected = "".join(text[:2] + MARK + text[2:] if mark else text for text, mark in pieces)

    assert mark_action_links(html, ACTIONS) == expected


@given(st.lists(PIECES, max_size=12))
def test_offsets_point_just_after_the_tag_name(pieces: list[Piece]) -> None:
    html = "".join(text for text, _ in pieces)
    offsets = action_link_offsets(html, ACTIONS)
    assert len(offsets) == sum(1 for _, mark in pieces if mark)
    for offset in offsets:
        assert html[offset - 2 : offset].lower() == "<a"
        assert html[offset] in " \n\t"


def test_without_action_urls_only_placeholders_count() -> None:
    html = f'<a href="{SITE}/vote/x">a</a><a href="{placeholders.UNSUBSCRIBE}">u</a>'
    assert (
        mark_action_links(html)
        == f'<a href="{SITE}/vote/x">a</a><a{MARK} href="{placeholders.UNSUBSCRIBE}">u</a>'
    )
