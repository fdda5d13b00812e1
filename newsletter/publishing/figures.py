"""Figures derived from verdicts and votes; never typed by hand."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from newsletter.publishing.models import Verdict

_RANK: dict[str, int] = {Verdict.SHIP: 2, Verdict.WAIT: 1, Verdict.SKIP: 0}

NO_VOTES_YET: Final = "no votes yet"
"""A tool's community share before anyone voted. Words, not a dash: at the start of a line
a dash reads as a bullet, and "0%" would claim that people voted against it."""


def rank(verdict: str) -> int:
    """ship > wait > skip, as a number to compare."""
    return _RANK[verdict]


def ship_share(verdicts: Iterable[str]) -> float | None:
    """Share of reviewers whose verdict is ship; None when nobody reviewed the tool."""
    verdicts = list(verdicts)
    if not verdicts:
        return None
    return sum(v == Verdict.SHIP for v in verdicts) / len(verdicts)


def community_shares(votes: Mapping[str, int], tools: Iterable[str]) -> dict[str, float | None]:
    """Each tool's share of the community vote; None for every tool while nobody voted."""
    tools = list(tools)
    total = sum(votes.get(t, 0) for t in tools)
    return {t: (votes.get(t, 0) / total if total else None) for t in tools}


def percent(share: float | None) -> str:
    """'100%', '67%', or an em dash when there is nothing to count yet."""
    return "—" if share is None else f"{round(share * 100)}%"


def community_percent(share: float | None) -> str:
    """A community share as the reader sees it: '67%', or "no votes yet"."""
    return NO_VOTES_YET if share is None else percent(share)


@dataclass(frozen=True)
class Split:
    """Which reviewers favour which tool; `undecided` rank their best tools equally."""

    favour: dict[str, list[str]]
    undecided: list[str]


def reviewer_split(takes: Mapping[str, Mapping[str, str]], tools: Iterable[str]) -> Split:
    """`takes` maps reviewer -> tool -> verdict. A reviewer favours the one tool they rank
    strictly above every other (ship > wait > skip)."""
    tools = list(tools)
    favour: dict[str, list[str]] = {t: [] for t in tools}
    undecided: list[str] = []
    for reviewer, verdicts in takes.items():
        ranked = sorted(((rank(verdicts[t]), t) for t in tools if t in verdicts), reverse=True)
        if len(ranked) >= 2 and ranked[0][0] > ranked[1][0]:
            favour[ranked[0][1]].append(reviewer)
        else:
            undecided.append(reviewer)
    return Split(favour=favour, undecided=undecided)
