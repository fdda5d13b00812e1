"""Outcomes: a claimed batch moved to what its request came to, recipients along with it,
and the rule for an answer that comes back after the batch was given up on.

A late answer. A sender whose lease ran out (a long GC pause, a suspended VM, a network
partition) may still be answered: by then another sender has declared its batch `unknown`,
and may have finished the issue. The answer settles what was a guess, and never reopens it
behind anyone's back:

- accepted, failed, ambiguous or skipped: the batch takes that state (a definite answer
  beats a guess);
- a transient refusal (429, 5xx, connection refused: certainly not accepted) reopens the
  batch as `retryable` only while its issue is still `sending` or `paused`, where a sender
  or the next resume will send it. Once the issue is `sent` or `failed` nothing would send
  it any more, so the batch is `failed` instead, with the reason, and its recipients are
  reported as failed rather than silently queued.

The late path locks the issue's row before it decides, and `settle` locks the same row
before it looks at what is left and finishes the issue; so the issue cannot be finished
while a batch is being reopened (on PostgreSQL those are row locks; on SQLite both run in
`BEGIN IMMEDIATE` transactions, which take turns anyway). A finished issue whose batch a
late answer settled gets its status and reason stated again from the ledger.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Integer, String, Update, bindparam, func, update
from sqlmodel import Session, col

from newsletter.core.clock import utcnow
from newsletter.publishing import lifecycle
from newsletter.publishing.lifecycle import FINISHED, IssueStatus
from newsletter.publishing.models import Issue
from newsletter.sending.ledger.counts import finished_outcome, ledger_counts
from newsletter.sending.ledger.tables import (
    ERROR_MAX,
    BatchState,
    RecipientState,
    SendBatch,
    SendRecipient,
)

REOPENABLE = frozenset({IssueStatus.SENDING, IssueStatus.PAUSED})
"""Issue statuses under which a late transient refusal may make its batch retryable again:
a send still running, or one that resumes."""
LATE_REFUSAL = "refused after its sender's lease ran out and the send had finished"


def _core(session: Session) -> Connection:
    """The session's connection: the per-batch statements as plain Core (no ORM objects)."""
    return session.connection()


def _chunks(items: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def record_outcome(
    session: Session,
    issue_id: int,
    seq: int,
    owner: str,
    state: BatchState,
    *,
    message_id: str | None = None,
    error: str | None = None,
    not_before: float | None = None,
    sent: int | None = None,
    skipped: Sequence[int] = (),
    refused: Sequence[int] = (),
) -> BatchState | None:
    """Move this owner's in-flight batch to what its request came to, recipients included:
    `skipped` are those found gone at the claim, `refused` those the provider refused one
    by one (they become `failed`; the batch is `accepted` for the others), `sent` how many
    the request carried.

    Returns the state recorded, None if the batch was not ours to settle. A batch another
    sender already declared `unknown` is settled by the late-answer rule of the module
    docstring, so the state recorded may differ from `state`.
    """
    extra: dict[str, Any] = {}
    if sent is not None:
        extra["sent"] = sent
    if message_id is not None:
        extra["message_id"] = message_id[:200]
    finished: IssueStatus | None = None
    if not _move(
        session, issue_id, seq, owner, BatchState.IN_FLIGHT, state, error, not_before, extra
    ):
        late = _late(session, issue_id, state, error)
        if late is None:
            return None
        state, error, finished = late
        if not _move(
            session, issue_id, seq, owner, BatchState.UNKNOWN, state, error, not_before, extra
        ):
            return None
    _mark(session, issue_id, skipped, RecipientState.SKIPPED)
    _mark(session, issue_id, refused, RecipientState.FAILED, seq=seq)
    if state != BatchState.SKIPPED:
        settle_recipients(session, issue_id, seq, state)
    if finished is not None:
        _restate(session, issue_id, finished)
    return state


def _move_statement(retryable: bool) -> Update:
    """A batch's move to its outcome, built once (see `claims._claim_statement`): `sent` and
    `message_id` are kept as they were when not given; a retryable batch is due again at
    `not_before` with one try more, any other is finished."""
    values: dict[str, Any] = {
        "state": bindparam("p_state"),
        "lease_until": None,
        "error": bindparam("p_error"),
        "sent": func.coalesce(bindparam("p_sent", type_=Integer), col(SendBatch.sent)),
        "message_id": func.coalesce(
            bindparam("p_message_id", type_=String), col(SendBatch.message_id)
        ),
    }
    if retryable:
        values.update(not_before=bindparam("p_not_before"), tries=col(SendBatch.tries) + 1)
    else:
        values["finished_at"] = bindparam("p_finished_at")
    return (
        update(SendBatch)
        .where(col(SendBatch.issue_id) == bindparam("p_issue_id"))
        .where(col(SendBatch.seq) == bindparam("p_seq"))
        .where(col(SendBatch.owner) == bindparam("p_owner"))
        .where(col(SendBatch.state) == bindparam("p_current"))
        .values(**values)
    )


_MOVE = {True: _move_statement(retryable=True), False: _move_statement(retryable=False)}


def _move(
    session: Session,
    issue_id: int,
    seq: int,
    owner: str,
    current: BatchState,
    state: BatchState,
    error: str | None,
    not_before: float | None,
    extra: dict[str, Any],
) -> bool:
    """One conditional UPDATE: the batch is this owner's and in `current`."""
    retryable = state == BatchState.RETRYABLE
    params: dict[str, Any] = {  # the statement's parameters are named p_<column>
        "p_issue_id": issue_id,
        "p_seq": seq,
        "p_owner": owner,
        "p_current": current.value,
        "p_state": state.value,
        "p_error": error[:ERROR_MAX] if error else None,
        "p_sent": extra.get("sent"),
        "p_message_id": extra.get("message_id"),
    }
    if retryable:
        params["p_not_before"] = not_before
    else:
        params["p_finished_at"] = utcnow()
    result = _core(session).execute(_MOVE[retryable], params)
    return int(result.rowcount) == 1


def _late(
    session: Session, issue_id: int, state: BatchState, error: str | None
) -> tuple[BatchState, str | None, IssueStatus | None] | None:
    """What a late answer records (state, error) and the issue's status if it is finished;
    the issue's row stays locked until the transaction ends. None if the issue is gone."""
    if not lifecycle.lock_while(session, issue_id, frozenset(IssueStatus)):
        return None
    status = lifecycle.status_of(session, issue_id)
    if state == BatchState.RETRYABLE and status not in REOPENABLE:
        state, error = BatchState.FAILED, f"{LATE_REFUSAL}: {error or 'no reason given'}"
    return state, error, status if status in FINISHED else None


def _mark(
    session: Session,
    issue_id: int,
    subscribers: Sequence[int],
    target: RecipientState,
    *,
    seq: int | None = None,
) -> None:
    for part in _chunks(subscribers):
        statement = (
            update(SendRecipient)
            .where(col(SendRecipient.issue_id) == issue_id)
            .where(col(SendRecipient.subscriber_id).in_(part))
        )
        if seq is not None:  # only the batch's own queued (or unknown) recipients
            statement = statement.where(col(SendRecipient.batch_seq) == seq).where(
                col(SendRecipient.state).in_((RecipientState.QUEUED, RecipientState.UNKNOWN))
            )
        _core(session).execute(statement.values(state=target))


def _restate(session: Session, issue_id: int, status: IssueStatus) -> None:
    """A finished issue's status and reason, stated again from the ledger as it is now."""
    issue = session.get(Issue, issue_id, populate_existing=True)
    assert issue is not None
    to, reason = finished_outcome(ledger_counts(session, issue))
    lifecycle.move(session, issue_id, {status}, to, reason=reason)


_SETTLE = (
    update(SendRecipient)
    .where(col(SendRecipient.issue_id) == bindparam("p_issue_id"))
    .where(col(SendRecipient.batch_seq) == bindparam("p_seq"))
    .where(col(SendRecipient.state).in_((RecipientState.QUEUED, RecipientState.UNKNOWN)))
    .values(state=bindparam("p_target"))
)


def settle_recipients(session: Session, issue_id: int, seq: int, state: BatchState) -> int:
    """Move a batch's recipients along with it; returns how many moved."""
    target = {
        BatchState.ACCEPTED: RecipientState.ACCEPTED,
        BatchState.FAILED: RecipientState.FAILED,
        BatchState.UNKNOWN: RecipientState.UNKNOWN,
    }.get(state, RecipientState.QUEUED)  # retryable: they stay queued for the next claim
    result = _core(session).execute(
        _SETTLE, {"p_issue_id": issue_id, "p_seq": seq, "p_target": target.value}
    )
    return int(result.rowcount)
