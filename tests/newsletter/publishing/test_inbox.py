"""The subject and preheader fit their limits, cut with an ellipsis where they must."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.publishing.inbox import (
    PREHEADER_MAX,
    SEPARATORS,
    SUBJECT_MAX,
    preheader_line,
    shorten,
    subject_line,
)


@dataclass(frozen=True)
class _Block:
    title: str
    verdict: str


def test_shorten_keeps_short_text_and_cuts_long_text_with_an_ellipsis() -> None:
    assert shorten("Short", 10) == "Short"
    assert shorten("A long title here", 8) == "A long…"
    assert len(shorten("x" * 200, 80)) == 80


def test_subject_names_the_first_comparison_and_counts_the_rest() -> None:
    assert subject_line(3, [_Block("A vs B", "v")]) == "Verdicts #3: A vs B"
    two = subject_line(3, [_Block("A vs B", "v"), _Block("C vs D", "w")])
    assert two == "Verdicts #3: A vs B (+1 more)"
    long = subject_line(12, [_Block("T" * 200, "v"), _Block("x", "y")])
    assert len(long) == SUBJECT_MAX
    assert long.endswith("… (+1 more)")
    assert subject_line(1, []) == "Verdicts #1: this week's comparisons"


def test_preheader_is_the_first_verdict_then_the_other_titles() -> None:
    blocks = [_Block("A vs B", "A wins."), _Block("C vs D", "x"), _Block("E vs F", "y")]
    assert preheader_line(blocks) == "A wins. Also: C vs D; E vs F."
    assert len(preheader_line([_Block("A", "v" * 300)])) == PREHEADER_MAX
    assert preheader_line([]) == ""


def test_a_long_subject_is_cut_between_words_with_an_ellipsis() -> None:
    title = "Perplexity Pro vs ChatGPT Deep Research vs Gemini Advanced Research Mode"
    subject = subject_line(12, [_Block(title, "v"), _Block("x", "y")])
    assert len(subject) <= SUBJECT_MAX
    assert subject.endswith("… (+1 more)")
    kept = subject.removeprefix("Verdicts #12: ").removesuffix("… (+1 more)")
    assert title.startswith(kept)
    assert title[len(kept)] == " ", f"cut inside a word: {subject!r}"
    assert subject == "Verdicts #12: Perplexity Pro vs ChatGPT Deep Research vs Gemini… (+1 more)"


def test_a_cut_never_ends_on_a_dangling_separator() -> None:
    assert shorten("Alpha vs Beta, and Gamma too", 16) == "Alpha vs Beta…"
    assert shorten("Alpha vs Beta: the long read", 15) == "Alpha vs Beta…"
    assert shorten("Supercalifragilistic", 8) == "Superca…"  # one word: cut where it must be


def test_a_word_followed_by_punctuation_is_kept_when_it_fits() -> None:
    """Before, the comma glued to "Beta" made the cut drop the whole word."""
    assert shorten("Alpha vs Beta, and Gamma too", 14) == "Alpha vs Beta…"
    assert shorten("Alpha vs Beta. Gamma", 15) == "Alpha vs Beta…"
    assert shorten("Alpha vs Beta,Gamma and more", 15) == "Alpha vs…"  # one word: kept whole


# -- Properties, over texts made of words, spaces and the punctuation titles carry.

_SEPARATOR_SET = set(SEPARATORS)
_texts = st.text(alphabet=st.sampled_from([*"abcXY é'’)\"", " ", " ", "\t", *SEPARATORS]))


def _dangles(char: str) -> bool:
    return char.isspace() or char in _SEPARATOR_SET


def _is_word_prefix(text: str, k: int) -> bool:
    """`text[:k]` ends a word: it ends on a word's own character, and what follows is only
    punctuation up to a space or the end (the word's trailing comma, full stop...)."""
    if k < 1 or k > len(text) or _dangles(text[k - 1]):
        return False
    rest = text[k:].lstrip(SEPARATORS)
    return not rest or rest[0].isspace()


@settings(max_examples=400)
@given(text=_texts, limit=st.integers(min_value=1, max_value=40))
def test_shorten_keeps_the_longest_word_prefix_that_fits(text: str, limit: int) -> None:
    cut = shorten(text, limit)
    assert len(cut) <= limit
    if len(text) <= limit:
        assert cut == text
        return
    assert cut.endswith("…")
    kept = cut[:-1]
    assert text.startswith(kept)
    fitting = [k for k in range(1, limit) if _is_word_prefix(text, k)]
    if fitting:  # whole words, and as many as fit
        assert _is_word_prefix(text, len(kept)), (text, cut)
        assert len(kept) == max(fitting), (text, cut)
    else:  # a first word longer than the room: cut inside it, nothing dangling
        assert kept == text[: limit - 1].rstrip(" \t" + SEPARATORS)
        assert not kept or not _dangles(kept[-1])
