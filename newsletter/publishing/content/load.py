"""Loading checked files into the database: an upsert by slug, all or nothing.

Runs the same checks as `check_content` first and writes nothing when any fails, so a bad
file never leaves half a comparison behind. Rows are only touched where a value differs,
so loading the same files twice changes nothing (and reports every slug unchanged).

A comparison whose file is gone is not deleted (an issue may have sent it, votes point at
it): it is marked withdrawn (`withdrawn_at`), and the mark is cleared if the file comes
back. What that means for the issues is decided above this package
(`publishing.withdrawal`).

A folder with no comparison file at all, while comparisons are loaded, is refused as a
content problem: that is a checkout caught half-way (a `git stash`, a branch switch), not
an editor deleting every comparison, and loading it would withdraw them all and cancel
every draft for good.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from newsletter.core.clock import utcnow
from newsletter.core.database import serialize
from newsletter.core.sql import row_id
from newsletter.publishing.content.check import COMPARISONS_FOLDER, check_content
from newsletter.publishing.content.reports import ContentError, LoadReport, Problem
from newsletter.publishing.content.schema import ComparisonIn, ReviewerIn, ToolIn
from newsletter.publishing.models import Comparison, ComparisonTool, Review, Reviewer, Tool


class Outcome(StrEnum):
    """What loading did to one comparison; each value names a list of `LoadReport`."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


LinkRow = tuple[int, int]
"""(tool id, position) of one comparison_tool row."""
ReviewRow = tuple[int, int, int, str, str]
"""(reviewer id, tool id, position, verdict, take) of one review row."""


def load_content(session: Session, root: Path) -> LoadReport:
    """Check, then upsert by slug, and withdraw the comparisons whose file is gone. Raises
    ContentError (and writes nothing) on any problem."""
    checked = check_content(root)
    if checked.problems:
        raise ContentError(checked.problems)
    report = LoadReport()
    serialize(session, "content-load")  # two loaders at once would both insert new slugs
    if not checked.comparisons:
        _refuse_withdrawing_everything(session, root)
    reviewer_ids = _load_reviewers(session, checked.reviewers, report)
    tool_ids = _load_tools(session, [t for _, c in checked.comparisons for t in c.tools])
    existing = {c.slug: c for c in session.exec(select(Comparison))}
    for shown, item in checked.comparisons:
        outcome = _load_comparison(
            session, existing.get(item.slug), item, shown, reviewer_ids, tool_ids
        )
        getattr(report, outcome.value).append(item.slug)
    _mark_withdrawn(existing, {item.slug for _, item in checked.comparisons}, report)
    session.flush()
    return report


def _refuse_withdrawing_everything(session: Session, root: Path) -> None:
    """Raise ContentError when comparisons are loaded (and not withdrawn): a folder without
    a single comparison file would withdraw every one of them (see the module docstring)."""
    loaded = session.exec(
        select(func.count()).select_from(Comparison).where(col(Comparison.withdrawn_at).is_(None))
    ).one()
    if not loaded:
        return
    shown = (root / COMPARISONS_FOLDER).relative_to(root.parent)  # 'content/comparisons'
    raise ContentError(
        [
            Problem(
                str(shown),
                1,
                "",
                f"holds no comparison file while {loaded} comparison(s) are loaded; loading "
                "it would withdraw them all, so nothing was loaded (a git stash or a branch "
                "switch?): bring the files back and load again",
            )
        ]
    )


def _mark_withdrawn(existing: dict[str, Comparison], present: set[str], report: LoadReport) -> None:
    """Withdraw the comparisons loaded before whose file is gone; restore those whose file
    is back. Only a change of state is reported."""
    now = utcnow()
    for slug in sorted(existing):
        row = existing[slug]
        if slug not in present and row.withdrawn_at is None:
            row.withdrawn_at = now
            report.withdrawn.append(slug)
        elif slug in present and row.withdrawn_at is not None:
            row.withdrawn_at = None
            report.restored.append(slug)


def _load_reviewers(
    session: Session, items: list[ReviewerIn], report: LoadReport
) -> dict[str, int]:
    rows = {r.slug: r for r in session.exec(select(Reviewer))}
    for position, item in enumerate(items):
        values: dict[str, Any] = {"name": item.name, "lens": item.lens.value, "position": position}
        row = rows.get(item.slug)
        if row is None:
            rows[item.slug] = Reviewer(slug=item.slug, **values)
            session.add(rows[item.slug])
            report.reviewers += 1
        elif _assign(row, values):
            report.reviewers += 1
    session.flush()
    return {slug: row_id(row.id) for slug, row in rows.items()}


def _load_tools(session: Session, items: list[ToolIn]) -> dict[str, int]:
    rows = {t.slug: t for t in session.exec(select(Tool))}
    for item in items:
        values: dict[str, Any] = {
            "name": item.name,
            "vendor": item.vendor,
            "category": item.category,
            "tagline": item.tagline,
            "description": item.description,
            "pricing_entry": item.pricing.entry.value,
            "pricing_note": item.pricing.note,
            "url": item.url,
        }
        row = rows.get(item.slug)
        if row is None:
            rows[item.slug] = Tool(slug=item.slug, **values)
            session.add(rows[item.slug])
        else:
            _assign(row, values)
    session.flush()
    return {slug: row_id(row.id) for slug, row in rows.items()}


def _load_comparison(
    session: Session,
    row: Comparison | None,
    item: ComparisonIn,
    shown: str,
    reviewer_ids: dict[str, int],
    tool_ids: dict[str, int],
) -> Outcome:
    """Upsert one comparison; its tool links and reviews are replaced only when they differ."""
    values: dict[str, Any] = {
        "title": item.title,
        "question": item.question,
        "published": item.published,
        "verdict": item.verdict,
        "source": shown,
    }
    links: list[LinkRow] = sorted(
        (tool_ids[t.slug], position) for position, t in enumerate(item.tools)
    )
    reviews: list[ReviewRow] = sorted(
        (
            reviewer_ids[review.reviewer],
            tool_ids[t.slug],
            position,
            review.takes[t.slug].verdict.value,
            review.takes[t.slug].take,
        )
        for position, review in enumerate(item.reviews)
        for t in item.tools
    )
    if row is None:
        row = Comparison(slug=item.slug, **values)
        session.add(row)
        session.flush()
        outcome = Outcome.CREATED
    else:
        changed = _assign(row, values)
        old_links = list(
            session.exec(select(ComparisonTool).where(ComparisonTool.comparison_id == row.id))
        )
        old_reviews = list(session.exec(select(Review).where(Review.comparison_id == row.id)))
        same = links == sorted((x.tool_id, x.position) for x in old_links) and reviews == sorted(
            (r.reviewer_id, r.tool_id, r.position, r.verdict, r.take) for r in old_reviews
        )
        if same:
            if changed:
                row.loaded_at = utcnow()
            return Outcome.UPDATED if changed else Outcome.UNCHANGED
        for old in [*old_links, *old_reviews]:
            session.delete(old)
        session.flush()
        row.loaded_at = utcnow()
        outcome = Outcome.UPDATED
    _add_children(session, row_id(row.id), links, reviews)
    return outcome


def _add_children(
    session: Session, comparison_id: int, links: list[LinkRow], reviews: list[ReviewRow]
) -> None:
    session.add_all(
        ComparisonTool(comparison_id=comparison_id, tool_id=tool_id, position=position)
        for tool_id, position in links
    )
    session.add_all(
        Review(
            comparison_id=comparison_id,
            reviewer_id=reviewer_id,
            tool_id=tool_id,
            position=position,
            verdict=verdict,
            take=take,
        )
        for reviewer_id, tool_id, position, verdict, take in reviews
    )


def _assign(row: Any, values: dict[str, Any]) -> bool:
    """Set only the attributes that differ, so an unchanged row stays clean."""
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed
