"""Loading the editors' files, and what a deleted file does to the issues: withdrawal.

`content.load_content` marks a comparison withdrawn when its file is gone (and clears the
mark when the file comes back); it knows nothing of issues, which sit above it. This
module is the one door every loader goes through (`content load`, the scheduler's weekly
job, the preview), so each of them also applies the withdrawal to the issues:

- a draft (`lifecycle.EDITABLE`) loses its withdrawn comparisons and is re-rendered in
  the same transaction, under the re-render's row lock; a draft left with nothing is
  cancelled (an issue holds at least one comparison), which frees its week for a new
  `issue build`;
- an approved or held issue keeps them: approval froze it, and what the editor approved
  is exactly what goes out, so nothing changes it by itself. The load says so, once per
  issue and on every load until it is dealt with: `issue unapprove N`, and the next load
  takes the comparison out;
- an issue that went out (or is going out) keeps them: the archive shows what readers got.

A withdrawn comparison is never picked again (`issues.pick_comparisons`) and never added
by hand (`composition.add_comparison`); the public site shows it only where it went out.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, col, select

from newsletter.core.settings import Settings
from newsletter.core.sql import row_id
from newsletter.publishing import lifecycle
from newsletter.publishing.composition import lock_draft, renumber
from newsletter.publishing.content import LoadReport, load_content
from newsletter.publishing.issues import (
    Built,
    build_issue,
    frozen_error,
    issue_for_week,
    rerender_issue,
)
from newsletter.publishing.lifecycle import EDITABLE, UNAPPROVABLE, UPCOMING, IssueStatus
from newsletter.publishing.models import Comparison, Issue, IssueComparison
from newsletter.publishing.weeks import parse_week

log = logging.getLogger(__name__)

EMPTIED = "every comparison in it was withdrawn (their files were deleted)"
"""The status reason of a draft that withdrawal left empty."""


@dataclass(frozen=True)
class TakenOut:
    """A draft that lost withdrawn comparisons: re-rendered, or cancelled if left empty."""

    number: int
    week: str
    slugs: list[str]
    cancelled: bool

    def __str__(self) -> str:
        names = ", ".join(self.slugs)
        if self.cancelled:
            return (
                f"issue #{self.number} ({self.week}) cancelled: every comparison in it was "
                f"withdrawn ({names}); `newsletter issue build --week {self.week}` picks again"
            )
        return f"issue #{self.number} ({self.week}): took out withdrawn {names}; re-rendered"


@dataclass(frozen=True)
class KeptFrozen:
    """An approved or held issue that still holds withdrawn comparisons."""

    number: int
    week: str
    status: str
    slugs: list[str]

    def __str__(self) -> str:
        return (
            f"issue #{self.number} ({self.week}) is {self.status} and still holds withdrawn "
            f"{', '.join(self.slugs)}: `newsletter issue unapprove {self.number}`, then "
            "`newsletter content load` takes it out"
        )


@dataclass
class ContentLoad:
    """What a load changed in the comparisons (`report`) and, through withdrawal, in the
    issues: drafts it took comparisons out of, frozen issues it left as they are."""

    report: LoadReport
    taken_out: list[TakenOut] = field(default_factory=list)
    kept_frozen: list[KeptFrozen] = field(default_factory=list)

    def notes(self) -> list[str]:
        """One line per comparison withdrawn or restored and per draft changed."""
        lines = [
            f"withdrawn {slug}: its file is gone; it is never picked again"
            for slug in self.report.withdrawn
        ]
        lines += [f"restored {slug}: its file is back" for slug in self.report.restored]
        return lines + [str(item) for item in self.taken_out]

    def warnings(self) -> list[str]:
        """One line per frozen issue holding a withdrawn comparison: an editor should act."""
        return [str(item) for item in self.kept_frozen]


def load_and_withdraw(session: Session, root: Path, settings: Settings) -> ContentLoad:
    """Check and load the files under `root` (all or nothing, as `load_content`), then apply
    the withdrawn comparisons to the issues; one transaction, the caller's.

    Takes the content load's lock (a PostgreSQL advisory lock) before any issue's row: a
    caller that also locks an issue (a re-render, `refresh_issue`) does so after this."""
    result = ContentLoad(load_content(session, root))
    for issue, withdrawn in _withdrawn_in_issues(session):
        if issue.status in EDITABLE and lock_draft(session, issue):
            result.taken_out.append(_take_out(session, issue, withdrawn, settings))
        elif issue.status in UNAPPROVABLE:
            slugs = sorted(withdrawn.values())
            result.kept_frozen.append(KeptFrozen(issue.number, issue.week, issue.status, slugs))
    for line in result.notes() + result.warnings():
        log.info("content: %s", line)
    return result


def _withdrawn_in_issues(session: Session) -> list[tuple[Issue, dict[int, str]]]:
    """Every issue that has not gone out and holds withdrawn comparisons, oldest first,
    with those comparisons (id -> slug)."""
    rows = session.exec(
        select(Issue, Comparison)
        .join(IssueComparison, col(IssueComparison.issue_id) == Issue.id)
        .join(Comparison, col(Comparison.id) == IssueComparison.comparison_id)
        .where(col(Comparison.withdrawn_at).is_not(None))
        .where(col(Issue.status).in_([s.value for s in UPCOMING]))
        .order_by(col(Issue.number), col(Comparison.slug))
    ).all()
    issues: dict[int, Issue] = {}
    withdrawn: dict[int, dict[int, str]] = defaultdict(dict)
    for issue, comparison in rows:
        issues[row_id(issue.id)] = issue
        withdrawn[row_id(issue.id)][row_id(comparison.id)] = comparison.slug
    return [(issue, withdrawn[key]) for key, issue in issues.items()]


def _take_out(
    session: Session, issue: Issue, withdrawn: dict[int, str], settings: Settings
) -> TakenOut:
    """Remove the `withdrawn` comparisons (id -> slug) from a locked draft; re-render it, or
    cancel it when nothing is left."""
    slugs = sorted(withdrawn.values())
    links = session.exec(
        select(IssueComparison)
        .where(IssueComparison.issue_id == issue.id)
        .order_by(col(IssueComparison.position))
    ).all()
    remaining = [link for link in links if link.comparison_id not in withdrawn]
    for link in links:
        if link.comparison_id in withdrawn:
            session.delete(link)
    session.flush()
    if not remaining:
        lifecycle.move(session, row_id(issue.id), EDITABLE, IssueStatus.CANCELLED, reason=EMPTIED)
        session.refresh(issue)
        return TakenOut(issue.number, issue.week, slugs, cancelled=True)
    renumber(session, remaining)
    rerender_issue(session, issue, settings)
    session.flush()
    return TakenOut(issue.number, issue.week, slugs, cancelled=False)


@dataclass(frozen=True)
class Refreshed:
    built: Built
    loaded: ContentLoad


def refresh_issue(session: Session, week: str, settings: Settings) -> Refreshed:
    """`issue build --refresh`: load the files under content/ as they are now, then build
    the week's issue from them or re-render its draft. A content problem raises
    `ContentError` (with every problem) and a frozen issue `IssueConflict`; the caller's
    transaction holds the load and the render together, so either leaves nothing written.

    Locks in the one order every path takes (the preview, `content load`, the weekly job):
    the content load's lock first, then the issue's row (taken by the load's withdrawal or
    by the re-render). Taking the row first, as a refresh once did, deadlocks on PostgreSQL
    against a preview that holds the load's lock and waits for the row."""
    week = parse_week(week)
    existing = issue_for_week(session, week)
    if existing is not None and existing.status not in EDITABLE:
        raise frozen_error(existing)  # said before the files are read; nothing is locked
    loaded = load_and_withdraw(session, settings.content_dir, settings)
    built = build_issue(session, week, settings)
    if not built.created:
        rerender_issue(session, built.issue, settings)  # locks the row; frozen since: refused
    return Refreshed(built, loaded)
