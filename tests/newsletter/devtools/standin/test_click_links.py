"""Which links a simulated reader may click: what SendGrid's click tracking would report."""

from __future__ import annotations

import pytest

from newsletter.devtools.standin.click_links import click_candidates, clickable, pick_click_url

HTML = """
<a href="%%view_url%%" clicktracking="off">view</a>
<a class="x" href='https://tools.example/a?x=1&amp;y=2'>a</a>
<A HREF=https://tools.example/b>b</A>
<a clicktracking=off href="https://tools.example/untracked">u</a>
<a href="%%vote_1_2%%">vote</a>
<a name="anchor-without-href">no href</a>
"""


def test_candidates_are_the_tracked_hrefs_in_order_unescaped() -> None:
    assert click_candidates(HTML) == [
        "https://tools.example/a?x=1&y=2",
        "https://tools.example/b",
        "%%vote_1_2%%",
    ]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://tools.example/a", True),
        ("http://127.0.0.1:8000/comparisons/a-vs-b", True),
        ("http://127.0.0.1:8000/vote/abc.def", False),
        ("http://127.0.0.1:8000/unsubscribe/abc.def", False),
        ("http://127.0.0.1:8000/resubscribe/abc.def", False),
        ("http://127.0.0.1:8000/confirm/abc.def", False),
        ("mailto:editor@example.com", False),
        ("%%vote_1_2%%", False),
        ("/relative/path", False),
    ],
)
def test_only_http_links_that_act_for_nobody_are_clickable(url: str, expected: bool) -> None:
    assert clickable(url) is expected


def test_a_substituted_action_link_is_never_picked() -> None:
    substitutions = {"%%vote_1_2%%": "https://site.example/vote/tok.en"}
    picked = {pick_click_url(click_candidates(HTML), substitutions, f"key{i}") for i in range(50)}
    assert picked == {"https://tools.example/a?x=1&y=2", "https://tools.example/b"}
    assert pick_click_url(["%%vote_1_2%%"], substitutions, "k") is None
    assert pick_click_url(click_candidates(HTML), {}, "same") == pick_click_url(
        click_candidates(HTML), {}, "same"
    )
