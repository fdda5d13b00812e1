"""An issue's recipients by ledger state, counted from batch totals where the batch row
alone says what became of its recipients, and one by one only where it cannot.

Why not one `GROUP BY state` over `send_recipient`: the table has no index on the state,
so counting a million recipients reads a million table rows (250-350 ms on SQLite, 150-200
ms on PostgreSQL, measured by `benchmarks/report.py`), most of a report's budget. A batch
row (about 1,000 per million recipients) already knows how many of its recipients went
out, so:

- a *clean* accepted batch (accepted, no error, something sent) holds exactly `sent`
  accepted recipients and `size - sent` skipped ones: the request carried every recipient
  still queued (`batch_members`), the outcome moved them all to accepted and marked the
  others skipped (`ledger.record_outcome`);
- a *clean* failed batch (failed, something sent) likewise holds `sent` failed and
  `size - sent` skipped recipients: a refusal is of the whole request, recorded by the
  same `record_outcome` with how many it carried (a late refusal included), and no event
  follows a request the provider refused;
- an *untouched* batch (pending, never claimed) holds `size` queued recipients: the
  snapshot writes them queued and nothing else moves them before a claim;
- every other batch is counted recipient by recipient through the batch index
  (`ix_send_recipient_batch`): an accepted batch whose provider refused some recipients
  one by one (the outbox; its error names them), unknown batches (tracking or an
  operator's resend may still move them), skipped ones, and batches in progress (claimed,
  retryable).

A normal send leaves nearly every batch clean, so the per-recipient part reads a few
batches (about 5 ms for a million recipients on either database). When more than
`UNCLEAN_MAX` batches need counting (a send where every batch had a refusal, or whose
answers were all lost), the whole issue is counted in one statement. Either way only the
recipients outside the state their batches make likeliest are grouped, and that state gets
the rest of the batches' sizes (fixed at the snapshot, one row per recipient): the worst
case, every batch counted, takes about 100 ms on SQLite instead of the 250-400 ms of the
plain count.

What this relies on. A batch's `size` is its number of recipient rows (the snapshot writes
both; nothing deletes a recipient), except once `issue resend-unknown` moved recipients of
an unknown batch into a new batch, leaving the old one's `size` and `sent` as they were:
the sizes then add up to more than the audience, and the whole issue is counted instead
(by the audience). Whatever moves a recipient of an accepted batch, other than the outcome
that accepted it, also sets the batch's error or leaves it in another state, as the
ledger's one-by-one refusals do. An `unknown` batch that events settle (tracking makes it
accepted and clears its error) reads right too: its `sent` is the size of the request
whose answer was lost, recorded with that outcome; a batch whose sender died in flight
recorded none (`sent` 0) and is counted one by one. The tests compare this count with the
plain one after real sends, refusals, settled, reaped and re-sent batches.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, not_, or_, union_all
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from newsletter.sending.ledger import (
    BatchState,
    IssueSend,
    RecipientState,
    SendBatch,
    SendRecipient,
)

UNCLEAN_MAX = 500
"""Past this many batches to count one by one, the whole issue is counted instead: one
statement, and no list of batch numbers longer than a statement should carry."""


@dataclass(frozen=True)
class RecipientCounts:
    """Recipients of one issue by their ledger state."""

    accepted: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    queued: int = 0
    counted_one_by_one: int = 0
    """How many of them had to be counted row by row (the rest came from batch totals)."""

    @property
    def total(self) -> int:
        return self.accepted + self.failed + self.unknown + self.skipped + self.queued


def _clean_accepted() -> ColumnElement[bool]:
    return and_(
        col(SendBatch.state) == BatchState.ACCEPTED,
        col(SendBatch.error).is_(None),
        col(SendBatch.sent) > 0,
        col(SendBatch.sent) <= col(SendBatch.size),
    )


def _clean_failed() -> ColumnElement[bool]:
    return and_(
        col(SendBatch.state) == BatchState.FAILED,
        col(SendBatch.sent) > 0,
        col(SendBatch.sent) <= col(SendBatch.size),
    )


def _untouched() -> ColumnElement[bool]:
    return and_(col(SendBatch.state) == BatchState.PENDING, col(SendBatch.attempts) == 0)


def recipient_counts(session: Session, issue_id: int) -> RecipientCounts:
    """The recipients of issue `issue_id` (its row id) by state; see the module docstring
    for which batches are summed and which are counted."""
    batches = _batch_side(session, issue_id)
    likely: Counter[RecipientState] = Counter()
    for state, size in batches.others.values():
        likely[state] += size
    if len(batches.others) > UNCLEAN_MAX or batches.recipients != batches.audience:
        # Most of the send is odd, or recipients moved between batches: count them all.
        likely.update({RecipientState(k): n for k, n in batches.totals.items()})
        everyone = _by_state(session, issue_id, None, batches.audience, likely)
        return _counted(everyone)
    if not batches.others:
        return _counted({}, **batches.totals)
    rows = sum(size for _, size in batches.others.values())
    by_state = _by_state(session, issue_id, list(batches.others), rows, likely)
    return _counted(by_state, **batches.totals)


@dataclass(frozen=True)
class _Batches:
    totals: dict[str, int]
    """Recipients by state (accepted, failed, skipped, queued) over the batches whose
    totals say it all."""
    recipients: int
    """The sum of the batches' sizes."""
    audience: int
    """The recipients snapshotted (`issue_send.audience`): the issue's rows, for ever."""
    others: dict[int, tuple[RecipientState, int]]
    """The other batches (at most `UNCLEAN_MAX` + 1): number -> (the state most of their
    recipients are likely in, size)."""


_LIKELY = (
    RecipientState.QUEUED,  # pending, claimed, retryable
    RecipientState.ACCEPTED,
    RecipientState.FAILED,
    RecipientState.UNKNOWN,
    RecipientState.SKIPPED,
)
"""What a batch's state says of most of its recipients, by the code `_batch_side` gives."""


def _batch_side(session: Session, issue_id: int) -> _Batches:
    """What the batch rows alone tell: one statement, so one snapshot on PostgreSQL too
    (read apart, a batch accepted between two reads would be in neither or in both)."""
    accepted, failed, untouched = _clean_accepted(), _clean_failed(), _untouched()
    sent, size, state = col(SendBatch.sent), col(SendBatch.size), col(SendBatch.state)

    def total(*cases: tuple[ColumnElement[bool], Any]) -> ColumnElement[Any]:
        return func.coalesce(func.sum(case(*cases, else_=0)), 0)

    audience = (
        core_select(col(IssueSend.audience))
        .where(col(IssueSend.issue_id) == issue_id)
        .scalar_subquery()
    )
    totals = core_select(  # plain Core: seven columns, run on the connection
        literal(0).label("seq"),
        total((accepted, sent)),
        total((failed, sent)),
        total((or_(accepted, failed), size - sent)),
        total((untouched, size)),
        func.coalesce(func.sum(size), 0),
        func.coalesce(audience, 0),
    ).where(col(SendBatch.issue_id) == issue_id)
    others = (
        core_select(
            col(SendBatch.seq).label("seq"),
            size.label("size"),
            case(
                *((state == s.value, code) for code, s in enumerate(_LIKELY) if code),
                else_=0,
            ).label("likely"),
        )
        .where(col(SendBatch.issue_id) == issue_id)
        .where(not_(or_(accepted, failed, untouched)))
        .order_by(col(SendBatch.seq))
        .limit(UNCLEAN_MAX + 1)
        .subquery()
    )
    listed = core_select(
        others.c.seq, others.c.size, others.c.likely, *(literal(0) for _ in range(4))
    )
    rows = session.connection().execute(union_all(totals, listed)).all()
    summed = next(row for row in rows if row[0] == 0)  # batch numbers start at 1
    names = ("accepted", "failed", "skipped", "queued")
    return _Batches(
        totals=dict(zip(names, map(int, summed[1:5]), strict=True)),
        recipients=int(summed[5]),
        audience=int(summed[6]),
        others={int(r[0]): (_LIKELY[int(r[2])], int(r[1])) for r in rows if r[0]},
    )


def _by_state(
    session: Session,
    issue_id: int,
    batches: list[int] | None,
    rows: int,
    likely: Counter[RecipientState],
) -> dict[str, int]:
    """Recipients by state, one by one: of these batches (holding `rows` recipients), or of
    the whole issue (None).

    Only the recipients outside the likeliest state are grouped; that state gets the rest.
    On SQLite, reading a million rows costs about 100 ms and sorting them into groups
    twice that again, so grouping only the few odd ones makes the worst case about three
    times faster. The batches go as a list of numbers, not a subquery: PostgreSQL then plans
    for that many batches (an index scan), where a subquery's estimate (a third of the
    issue) made it read the whole table.
    """
    common = likely.most_common(1)[0][0] if likely else RecipientState.ACCEPTED
    query = (
        select(SendRecipient.state, func.count())
        .where(SendRecipient.issue_id == issue_id)
        .where(SendRecipient.state != common.value)
        .group_by(col(SendRecipient.state))
    )
    if batches is not None:
        query = query.where(col(SendRecipient.batch_seq).in_(batches))
    found = {str(state): int(n) for state, n in session.exec(query).all()}
    found[common.value] = rows - sum(found.values())
    return found


def _counted(
    by_state: dict[str, int],
    *,
    accepted: int = 0,
    failed: int = 0,
    skipped: int = 0,
    queued: int = 0,
) -> RecipientCounts:
    return RecipientCounts(
        accepted=accepted + by_state.get(RecipientState.ACCEPTED, 0),
        failed=failed + by_state.get(RecipientState.FAILED, 0),
        unknown=by_state.get(RecipientState.UNKNOWN, 0),
        skipped=skipped + by_state.get(RecipientState.SKIPPED, 0),
        queued=queued + by_state.get(RecipientState.QUEUED, 0),
        counted_one_by_one=sum(by_state.values()),
    )
