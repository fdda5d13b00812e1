"""What an issue holds, decided by the editor: add, remove and move comparisons in a draft.

The pick rule fills an issue once, when it is built; after that the editor has the last
word. A comparison outside the pick window, or one that a cancelled issue released, can
go out by being added to a draft by hand.

The rules, in one place:

- Only a draft changes (`lifecycle.EDITABLE`). Approving or holding froze the issue as the
  editor saw it; `issue unapprove N` brings it back to a draft first.
- A comparison is in one issue at most (a unique column): adding one that another issue
  holds is refused, naming that issue. A withdrawn comparison (its file was deleted) is
  never added.
- An issue holds at least one comparison: removing the last one is refused (an empty
  issue cannot be sent; `issue cancel N` is the way to drop the whole issue).
- `NEWSLETTER_COMPARISONS_PER_ISSUE` bounds what the pick takes, not what the editor may
  add: going over it is allowed and reported. What the number protects, an email that
  fits an inbox, is measured by `issue check` (Gmail's clipping, the size limits), and
  an editor who adds a fourth comparison on purpose is the one to decide.
- Positions are 1-based for the editor and stay contiguous; stored positions count from
  0, as the pick writes them.

Every change takes the issue's row lock through the same compare-and-set the re-render
uses (`lifecycle.lock_while(…, EDITABLE)`) before anything is read, and re-renders the
snapshot in the same transaction: a send that starts at the same moment either sees the
issue before the change or after the re-render, never in between.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from newsletter.core.errors import Conflict, InvalidInput, NotFound
from newsletter.core.settings import Settings
from newsletter.core.sql import row_id
from newsletter.publishing import lifecycle
from newsletter.publishing.issues import IssueConflict, IssueError, get_issue, rerender_issue
from newsletter.publishing.lifecycle import EDITABLE, UNAPPROVABLE
from newsletter.publishing.models import Comparison, Issue, IssueComparison


class UnknownComparison(IssueError, NotFound):
    """No loaded comparison has that slug."""


class NotInIssue(IssueError, NotFound):
    """The issue does not hold that comparison."""


class CompositionConflict(IssueError, Conflict):
    """The comparison cannot go in or out now: another issue holds it, it was withdrawn,
    or it is the last one in the issue."""


class BadPosition(IssueError, InvalidInput):
    """A position outside the issue (they run from 1 to the number of comparisons)."""


@dataclass(frozen=True)
class Held:
    """One comparison of an issue, at its place in the email (from 1)."""

    position: int
    slug: str
    title: str


@dataclass(frozen=True)
class Composition:
    """What an issue holds after an editor's change, and what it looks like now."""

    number: int
    week: str
    status: str
    held: list[Held]
    subject: str
    changed: bool
    limit: int  # NEWSLETTER_COMPARISONS_PER_ISSUE: what the pick takes at most

    @property
    def over_limit(self) -> bool:
        return len(self.held) > self.limit


def frozen_message(issue: Issue) -> str:
    """Why `issue` cannot change, and what the editor can do about it."""
    if issue.status in UNAPPROVABLE:
        return (
            f"issue #{issue.number} is {issue.status}: its contents are frozen; "
            f"run `newsletter issue unapprove {issue.number}` first"
        )
    return f"issue #{issue.number} is {issue.status}: only a draft issue can change"


def lock_draft(session: Session, issue: Issue) -> bool:
    """Lock the issue's row until commit if it is a draft (the re-render's compare-and-set).
    False, with `issue` refreshed, when it is not a draft (any more)."""
    if lifecycle.lock_while(session, row_id(issue.id), EDITABLE):
        return True
    session.refresh(issue)
    return False


def _draft(session: Session, number: int) -> Issue:
    issue = get_issue(session, number)
    if not lock_draft(session, issue):
        raise IssueConflict(frozen_message(issue))
    return issue


def _comparison(session: Session, slug: str) -> Comparison:
    comparison = session.exec(select(Comparison).where(Comparison.slug == slug)).first()
    if comparison is None:
        raise UnknownComparison(
            f"there is no comparison '{slug}' (is its file loaded? `newsletter content load`)"
        )
    return comparison


def links_of(session: Session, issue: Issue) -> list[tuple[IssueComparison, Comparison]]:
    """The issue's comparisons with their links, in their order in the email."""
    return list(
        session.exec(
            select(IssueComparison, Comparison)
            .join(Comparison, col(Comparison.id) == IssueComparison.comparison_id)
            .where(IssueComparison.issue_id == issue.id)
            .order_by(col(IssueComparison.position))
        )
    )


def _holder(session: Session, comparison: Comparison) -> Issue | None:
    """The issue that holds `comparison`, if one does."""
    return session.exec(
        select(Issue)
        .join(IssueComparison, col(IssueComparison.issue_id) == Issue.id)
        .where(IssueComparison.comparison_id == comparison.id)
    ).first()


def _taken(slug: str, number: int, holder: Issue) -> CompositionConflict:
    where = f"it is in issue #{holder.number} ({holder.week}, {holder.status})"
    if holder.status in EDITABLE:
        hint = f"; `newsletter issue remove {holder.number} {slug}` first"
    elif holder.status in UNAPPROVABLE:
        hint = (
            f"; `newsletter issue unapprove {holder.number}`, then "
            f"`newsletter issue remove {holder.number} {slug}` first"
        )
    else:
        hint = ""
    return CompositionConflict(f"cannot add '{slug}' to issue #{number}: {where}{hint}")


def _check_position(position: int, last: int, number: int) -> int:
    """The 0-based index of a 1-based `position` that may go up to `last`."""
    if not 1 <= position <= last:
        raise BadPosition(
            f"position {position} is outside issue #{number}: choose one from 1 to {last}"
        )
    return position - 1


def renumber(session: Session, ordered: list[IssueComparison]) -> None:
    """Store `ordered` as the issue's order: positions 0, 1, 2… with no gap."""
    for position, link in enumerate(ordered):
        if link.position != position:
            link.position = position
            session.add(link)
    session.flush()


def _composition(
    session: Session, issue: Issue, settings: Settings, *, changed: bool
) -> Composition:
    if changed:
        rerender_issue(session, issue, settings)
        session.flush()
    return Composition(
        number=issue.number,
        week=issue.week,
        status=issue.status,
        held=[
            Held(position + 1, comparison.slug, comparison.title)
            for position, (_, comparison) in enumerate(links_of(session, issue))
        ],
        subject=issue.subject,
        changed=changed,
        limit=settings.comparisons_per_issue,
    )


def add_comparison(
    session: Session, number: int, slug: str, settings: Settings, position: int | None = None
) -> Composition:
    """Put comparison `slug` into draft `number`, last or at `position` (from 1), and
    re-render it. Adding one the issue already holds changes nothing."""
    issue = _draft(session, number)
    comparison = _comparison(session, slug)
    if comparison.withdrawn_at is not None:
        raise CompositionConflict(
            f"cannot add '{slug}' to issue #{number}: it was withdrawn, its file "
            f"{comparison.source or slug} is gone (restore it and `newsletter content load`)"
        )
    links = [link for link, _ in links_of(session, issue)]
    if any(link.comparison_id == comparison.id for link in links):
        return _composition(session, issue, settings, changed=False)
    holder = _holder(session, comparison)
    if holder is not None:
        raise _taken(slug, number, holder)
    index = len(links) if position is None else _check_position(position, len(links) + 1, number)
    link = IssueComparison(
        issue_id=row_id(issue.id), comparison_id=row_id(comparison.id), position=len(links)
    )
    try:
        with session.begin_nested():
            session.add(link)
            session.flush()
    except IntegrityError:
        # Another writer put it in an issue after we looked (the column is unique).
        holder = _holder(session, comparison)
        if holder is None:
            raise IssueConflict(f"could not add '{slug}' to issue #{number}; try again") from None
        raise _taken(slug, number, holder) from None
    links.insert(index, link)
    renumber(session, links)
    return _composition(session, issue, settings, changed=True)


def remove_comparison(session: Session, number: int, slug: str, settings: Settings) -> Composition:
    """Take comparison `slug` out of draft `number` (it is free for another issue again),
    close the gap, and re-render. The last comparison of an issue stays."""
    issue = _draft(session, number)
    comparison = _comparison(session, slug)
    links = [link for link, _ in links_of(session, issue)]
    link = _link_of(links, comparison, issue, session)
    if len(links) == 1:
        raise CompositionConflict(
            f"cannot remove '{slug}': it is the only comparison in issue #{number}, and an "
            f"issue holds at least one; add another first, or `newsletter issue cancel {number}`"
        )
    session.delete(link)
    session.flush()
    renumber(session, [other for other in links if other is not link])
    return _composition(session, issue, settings, changed=True)


def move_comparison(
    session: Session, number: int, slug: str, position: int, settings: Settings
) -> Composition:
    """Put comparison `slug` at `position` (from 1) in draft `number`, the others keeping
    their order, and re-render. Moving it where it is changes nothing."""
    issue = _draft(session, number)
    comparison = _comparison(session, slug)
    links = [link for link, _ in links_of(session, issue)]
    link = _link_of(links, comparison, issue, session)
    index = _check_position(position, len(links), number)
    if links.index(link) == index:
        return _composition(session, issue, settings, changed=False)
    links.remove(link)
    links.insert(index, link)
    renumber(session, links)
    return _composition(session, issue, settings, changed=True)


def _link_of(
    links: list[IssueComparison], comparison: Comparison, issue: Issue, session: Session
) -> IssueComparison:
    for link in links:
        if link.comparison_id == comparison.id:
            return link
    held = ", ".join(c.slug for _, c in links_of(session, issue)) or "nothing"
    raise NotInIssue(f"issue #{issue.number} does not hold '{comparison.slug}' (it holds: {held})")
