"""The per-issue counters (`event_tally`): changes gathered while a POST is applied, then
written in one statement, and read back for the deliverability check.

Why gathered: a thousand events of one issue move the same dozen counters, so one
UPDATE per counter (not per event) keeps a POST cheap. The rows are written in sorted
order (issue, name): two POSTs of the same issue on PostgreSQL then lock them in the same
order and cannot deadlock on them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from sqlalchemy import select
from sqlmodel import Session

from newsletter.core.sql import table_of
from newsletter.tracking.dialect import upsert
from newsletter.tracking.models import EventTally, Tally

_tally = table_of(EventTally)


class TallyChanges:
    """Counter changes of one POST, by (issue id, counter)."""

    def __init__(self) -> None:
        self.changes: defaultdict[tuple[int, Tally], int] = defaultdict(int)

    def add(self, issue_id: int, name: Tally, by: int = 1) -> None:
        self.changes[(issue_id, name)] += by

    def move(self, issue_id: int, old: Tally | None, new: Tally | None) -> None:
        """A recipient left counter `old` for `new` (either may be none)."""
        if old == new:
            return
        if old is not None:
            self.add(issue_id, old, -1)
        if new is not None:
            self.add(issue_id, new, 1)

    def write(self, session: Session) -> None:
        """Add every non-zero change to its counter (a missing row starts at zero)."""
        rows = [
            {"issue_id": issue_id, "name": name.value, "value": by}
            for (issue_id, name), by in sorted(self.changes.items())
            if by
        ]
        if not rows:
            return
        statement = upsert(session, _tally).values(rows)
        session.connection().execute(
            statement.on_conflict_do_update(
                index_elements=[_tally.c.issue_id, _tally.c.name],
                set_={"value": _tally.c.value + statement.excluded.value},
            )
        )


def read_tallies(session: Session, issue_ids: Collection[int]) -> dict[int, dict[str, int]]:
    """Every counter of these issues, as stored now (a counter never touched is absent)."""
    found: dict[int, dict[str, int]] = {issue_id: {} for issue_id in issue_ids}
    if not issue_ids:
        return found
    rows = session.connection().execute(
        select(_tally.c.issue_id, _tally.c.name, _tally.c.value).where(
            _tally.c.issue_id.in_(sorted(issue_ids))
        )
    )
    for issue_id, name, value in rows:
        found[int(issue_id)][str(name)] = int(value)
    return found
