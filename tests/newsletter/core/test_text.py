"""Text from outside made safe to keep, send and show: no control character, escape
sequence or bidi control survives cleaning, and each is shown as its escape."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from newsletter.core.text import BIDI_CONTROLS, is_unsafe, visible, without_controls

# Text rich in what the module is about: controls, escape introducers, separators, marks.
hostile = st.text(
    st.one_of(
        st.characters(),
        st.sampled_from(
            [
                "\x1b",
                "[",
                "]",
                "\\",
                "\x07",
                "\x9b",
                "\x9c",
                "\x9d",
                "\r",
                "\n",
                "\t",
                "\x00",
                "\u2028",
                "\ufeff",
                "\u200d",
                " ",
                "\u00a0",
                *BIDI_CONTROLS,
            ]
        ),
    )
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Ada Lovelace", "Ada Lovelace"),
        ("  Grace\r\nHopper\t ", "Grace Hopper"),  # breaks are spaces
        ("A\x00nn", "Ann"),  # other controls leave no trace
        ("\x1b[31mRed\x1b[0m", "Red"),
        ("\x1b]0;window title\x07Eve", "Eve"),
        ("\x1b]8;;http://evil.example\x1b\\Click\x1b]8;;\x1b\\", "Click"),
        ("\x1bcReset", "Reset"),  # ESC c: the terminal's full reset
        ("\x9b2JC1", "C1"),
        ("\x9d0;title\x9cName", "Name"),
        ("abc\u202edcba", "abcdcba"),
        ("\ufeffZoë\u200b", "Zoë"),
        ("👩\u200d💻 Dev", "👩\u200d💻 Dev"),  # joiners stay
        ("Ann\u00a0Lee", "Ann Lee"),
        ("Ann\x1b[31", "Ann31"),  # an unfinished sequence: its introducer goes
        ("\x1b\x1b[2J!", "!"),
        ("", ""),
    ],
)
def test_without_controls(raw: str, clean: str) -> None:
    assert without_controls(raw) == clean


@given(hostile)
@example("\x1b\x1b[31mx")
@example("\x1b]\x1b\\")
def test_nothing_unsafe_survives_cleaning_and_cleaning_twice_changes_nothing(raw: str) -> None:
    clean = without_controls(raw)
    for char in clean:
        assert unicodedata.category(char) not in ("Cc", "Zl", "Zp", "Cs", "Co"), repr(char)
        assert char not in BIDI_CONTROLS
        assert not is_unsafe(char)
    assert "\ufeff" not in clean
    assert clean == clean.strip()
    assert "  " not in clean
    assert all(not c.isspace() or c == " " for c in clean)
    assert without_controls(clean) == clean


@given(st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Z"))))
def test_ordinary_text_is_kept_as_it_is(text: str) -> None:
    assert without_controls(text) == text


@given(hostile)
def test_visible_text_holds_nothing_unsafe_and_loses_nothing_else(raw: str) -> None:
    shown = visible(raw)
    assert not any(is_unsafe(c) for c in shown)
    assert visible(shown) == shown
    kept = visible(raw, keep_newlines=True)
    assert not any(is_unsafe(c) for c in kept if c != "\n")
    assert kept.count("\n") == raw.count("\n")
    # Every safe character is still there, in order.
    safe = [c for c in raw if not is_unsafe(c)]
    it = iter(shown)
    assert all(c in it for c in safe)


def test_visible_writes_each_unsafe_character_as_its_escape() -> None:
    assert visible("a\x1b[2Jb\u202ec\r\n\t\x00\U000e0001") == (
        "a\\x1b[2Jb\\u202ec\\r\\n\\t\\x00\\U000e0001"
    )
    assert visible("one\ntwo", keep_newlines=True) == "one\ntwo"
