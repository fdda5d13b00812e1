"""Every marker is built from the one sigil, and vote markers read back their ids."""

from __future__ import annotations

from newsletter.delivery import placeholders


def test_markers_share_the_sigil_and_vote_markers_round_trip() -> None:
    sigil = placeholders.SIGIL
    for marker in (placeholders.UNSUBSCRIBE, placeholders.VIEW, placeholders.vote(3, 7)):
        assert marker.startswith(sigil)
        assert marker.endswith(sigil)
    text = f"{placeholders.vote(3, 7)} {placeholders.vote(3, 8)} {placeholders.vote(3, 7)}"
    assert placeholders.vote_markers(text) == [(3, 7), (3, 8)]


def test_unfilled_finds_what_fill_left() -> None:
    text = f"{placeholders.UNSUBSCRIBE} {placeholders.VIEW} 100% done"
    filled = placeholders.fill(text, {placeholders.UNSUBSCRIBE: "https://x/u/1"})
    assert placeholders.unfilled(filled) == [placeholders.VIEW]
    assert placeholders.unfilled(placeholders.fill(filled, {placeholders.VIEW: "v"})) == []
