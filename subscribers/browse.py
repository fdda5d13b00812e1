"""Browsing the list a page at a time, fast at a million subscribers: what the desk's
subscriber page runs.

Three ways to look, each with a bound on the rows a page reads:

- No search (optionally one status): newest first by id, keyset paged (`before` is the
  last id shown). The primary key, or the index on `status` (which holds the row id, so
  `status = ? AND id < ? ORDER BY id DESC` walks it in order), gives the page directly.
- `Match.PREFIX`, "address starts with": a range over the unique index on `email`
  (`email >= 'ada' AND email < 'ada' || U+10FFFF`) in address order, keyset paged by the
  last address. Addresses are stored lower-case, so the text is lower-cased too. The range
  is byte order, which is SQLite's BINARY collation and PostgreSQL's under a "C" collation
  (the test database's `C.UTF-8`); an exact `substr(email, 1, n) = text` check rides
  along, so under another collation nothing wrong is shown.
- `Match.CONTAINS`, "address or name contains": no b-tree index can answer a substring,
  and a trigram index would be one database's feature. So the scan is honest about its
  cost: each page reads at most `SCAN_WINDOW` ids below the cursor (a primary-key range)
  and stops there, even with fewer matches than a page; the page then says which ids it
  searched and offers to search the next window. The time of a page is bounded by the
  window, never by the list.

Counts by status (`status_counts`): one statement, the total and each status but `active`
from indexes, `active` by difference (see there); the dashboard's counts are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import func, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from subscribers.errors import InvalidSubscriberInput
from subscribers.models import Status, Subscriber

PAGE_SIZE: Final = 50
SCAN_WINDOW: Final = 20_000
"""Ids a substring search reads per page, at most: about 55 ms on SQLite when nothing
matches (the worst case: every row of the window read), measured at a million rows."""
_TOP: Final = "\U0010ffff"  # the last code point: above every text that starts the same
SEARCH_MAX: Final = 320


class Match(StrEnum):
    PREFIX = "prefix"
    CONTAINS = "contains"


@dataclass(frozen=True)
class Query:
    text: str = ""
    match: Match = Match.PREFIX
    status: Status | None = None
    before: int | None = None  # id cursor: no search, or a substring search
    after: str | None = None  # address cursor: a prefix search


@dataclass(frozen=True)
class Page:
    rows: list[Subscriber]
    next_before: int | None = None  # the next page's id cursor, if there is one
    next_after: str | None = None  # the next page's address cursor, if there is one
    searched_from: int | None = None  # a substring search: the ids it read, highest ...
    searched_to: int | None = None  # ... to lowest (inclusive)


def browse(session: Session, query: Query, *, limit: int = PAGE_SIZE) -> Page:
    """One page of the list for `query` (see the module docstring for what each reads)."""
    if limit < 1:
        raise InvalidSubscriberInput("limit must be at least 1")
    text = query.text.strip()
    if len(text) > SEARCH_MAX:
        raise InvalidSubscriberInput(f"the search is too long (at most {SEARCH_MAX} characters)")
    if text and query.match == Match.PREFIX:
        return _by_prefix(session, text.lower(), query, limit)
    if text:
        return _containing(session, text, query, limit)
    return _newest(session, query, limit)


def _status_filter(query: Query) -> list[Any]:
    return [] if query.status is None else [col(Subscriber.status) == Status(query.status).value]


def _newest(session: Session, query: Query, limit: int) -> Page:
    statement = select(Subscriber).where(*_status_filter(query))
    if query.before is not None:
        statement = statement.where(col(Subscriber.id) < query.before)
    rows = list(session.exec(statement.order_by(col(Subscriber.id).desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, next_before=rows[-1].id if more and rows else None)


def _by_prefix(session: Session, text: str, query: Query, limit: int) -> Page:
    rows = list(session.exec(prefix_statement(text, query, limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, next_after=rows[-1].email if more and rows else None)


def prefix_statement(text: str, query: Query, limit: int) -> SelectOfScalar[Subscriber]:
    """The address range of `text` from the cursor on, in address order.

    One lower bound, the larger of the prefix and the cursor: given two, SQLite's planner
    may start the index range at the prefix and filter its way to the cursor, reading every
    earlier page's rows again on each deeper page. And the status, when filtered, is
    compared as `status || ''`, which no index serves: given a plain `status = ?`, SQLite
    walked the status index (every active subscriber, 1,000,000 of them) and sorted the
    matches by address (350 to 950 ms), where the address range reads only its own rows.
    """
    email = col(Subscriber.email)
    lower = email > query.after if query.after and query.after >= text else email >= text
    statement = select(Subscriber).where(
        lower, email < text + _TOP, func.substr(email, 1, len(text)) == text
    )
    if query.status is not None:
        unindexed = col(Subscriber.status).concat("")
        statement = statement.where(unindexed == Status(query.status).value)
    return statement.order_by(email).limit(limit)


def _containing(session: Session, text: str, query: Query, limit: int) -> Page:
    """Up to `limit` matches among the SCAN_WINDOW ids below the cursor, newest first."""
    top = query.before if query.before is not None else _top_id(session) + 1
    floor = max(top - SCAN_WINDOW, 0)
    matches = or_(
        col(Subscriber.email).icontains(text, autoescape=True),
        col(Subscriber.name).icontains(text, autoescape=True),
    )
    statement = (
        select(Subscriber)
        .where(col(Subscriber.id) < top, col(Subscriber.id) >= floor, matches)
        .where(*_status_filter(query))
        .order_by(col(Subscriber.id).desc())
        .limit(limit)
    )
    rows = list(session.exec(statement))
    if len(rows) == limit:  # the page is full: the next one starts below its last row
        last = rows[-1].id
        return Page(rows, next_before=last, searched_from=top - 1, searched_to=last)
    more = floor > 0 and _top_id(session, below=floor) > 0
    return Page(rows, next_before=floor if more else None, searched_from=top - 1, searched_to=floor)


def _top_id(session: Session, *, below: int | None = None) -> int:
    statement = select(func.max(Subscriber.id))
    if below is not None:
        statement = statement.where(col(Subscriber.id) < below)
    return int(session.exec(statement).one() or 0)


def status_counts(session: Session) -> dict[str, int]:
    """Subscribers in each status: the five in their usual order, then any other status a
    row holds (written by older code or by hand), shown rather than counted as another.

    One statement, so one snapshot (under PostgreSQL's READ COMMITTED each statement sees
    its own, and counts read apart could disagree with a signup between them). Counting
    the biggest status (active: nine in ten on a healthy list) walks most of the status
    index (a GROUP BY over it takes about 100 ms at a million rows on SQLite), so active
    is the total (COUNT(*) from the smallest index) less every other status, each other
    status read from the index's two ranges either side of `active`: about 35 ms at a
    million rows on SQLite, measured."""
    status = col(Subscriber.status)
    active = Status.ACTIVE.value
    total = select(sa.literal(None, sa.String).label("status"), func.count().label("n"))
    statement = sa.union_all(
        total.select_from(Subscriber),
        select(status, func.count()).where(status < active).group_by(status),
        select(status, func.count()).where(status > active).group_by(status),
    )
    everyone, rows = 0, {}
    for name, n in session.connection().execute(statement):
        if name is None:
            everyone = int(n)
        else:
            rows[str(name)] = int(n)
    counts = {each.value: rows.pop(each.value, 0) for each in Status}
    counts[active] = everyone - sum(counts.values()) - sum(rows.values())
    return counts | dict(sorted(rows.items()))
